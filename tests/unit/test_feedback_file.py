"""Reading the paper's published study-assistant feedback files."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from shared_data import shared_data_dir

from salam.assistant import LEAK, NO_JSON
from salam.errors import DataError
from salam.feedback_file import PublishedFeedback, load_feedback_file

REQUEST = (
    "\nPlease return a json with the following keys:\n"
    "    reason: explain the potential reason of the model prediction\n"
    "    guideline: based on the reason, provide an instruction as a prompt for the model to "
    "avoid similar mistakes\n"
    "Please do not mention the true answer or any specific option content in your response."
)
QUESTION = "Who was late?\nOptions:\n(A) The man\n(B) Not known\n(C) The woman"


def sa_input(answer: str, target: str) -> str:
    return (
        f"{QUESTION}\nWe get the answer {answer} from the model while the true answer is "
        f"{target}. {REQUEST}"
    )


def write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "feedback.json"
    path.write_text(json.dumps(document))
    return path


def test_question_answers_and_feedback_are_read_back(tmp_path: Path) -> None:
    output = json.dumps({"reason": "Stereotype.", "guideline": "Rely on the text only."})
    instances = [
        {"input": sa_input("(A)", "(B)"), "output": output},
        {"input": sa_input("( C )", "(B)"), "output": output},
        {"input": sa_input("(D).", "(B)"), "output": output},
    ]
    result = load_feedback_file(write(tmp_path, {"type": "text2text", "instances": instances}))
    assert result.skipped == []
    assert result.items[0] == PublishedFeedback(
        QUESTION, "(A)", "(B)", "Stereotype.", "Rely on the text only."
    )
    assert [item.answer for item in result.items] == ["(A)", "(C)", "(D)"]


def test_unparseable_and_leaking_outputs_are_skipped_and_counted(tmp_path: Path) -> None:
    instances = [
        {"input": sa_input("(A)", "(B)"), "output": "no json here"},
        {
            "input": sa_input("(A)", "(B)"),
            "output": '{"reason": "r", "guideline": "Say not known."}',
        },
        {"input": sa_input("(C)", "(B)"), "output": '{"reason": "r", "guideline": "Read it."}'},
    ]
    path = write(tmp_path, {"type": "text2text", "instances": instances})
    lenient = load_feedback_file(path)
    assert lenient.skipped == [(0, NO_JSON)]
    assert len(lenient.items) == 2
    strict = load_feedback_file(path, reject_leaks=True)
    assert strict.skipped == [(0, NO_JSON), (1, LEAK)]
    assert [item.guideline for item in strict.items] == ["Read it."]


def test_published_item_rebuilds_its_question_record() -> None:
    item = PublishedFeedback(QUESTION, "(A)", "(B)", "r", "g")
    record = item.as_record(task="gender", index=7)
    assert record.options == ("The man", "Not known", "The woman")
    assert record.target_text == "Not known"
    assert record.id == "published/gender/7"


@pytest.mark.parametrize(
    ("content", "record"),
    [
        ("not json {", None),
        ("[1, 2]", None),
        ('{"type": "text2text"}', None),
        ('{"type": "chat", "instances": []}', None),
        ('{"type": "text2text", "instances": [{"input": "q"}]}', 0),
        ('{"type": "text2text", "instances": [{"input": "just a question", "output": "{}"}]}', 0),
    ],
)
def test_bad_files_are_data_errors(tmp_path: Path, content: str, record: int | None) -> None:
    path = tmp_path / "feedback.json"
    path.write_text(content)
    with pytest.raises(DataError) as caught:
        load_feedback_file(path)
    assert caught.value.source == str(path)
    assert caught.value.record == record


def test_missing_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot read"):
        load_feedback_file(tmp_path / "absent.json")


def feedback_dir() -> Path:
    folder = shared_data_dir() / "salam" / "feedback"
    if not folder.is_dir():
        pytest.skip(f"published feedback not found at {folder}")
    return folder


@pytest.mark.parametrize(
    ("name", "instances", "without_leaks"),
    [("bbh_gpt4_feedback.json", 1855, 1824), ("bbq_gpt4_feedback.json", 514, 325)],
)
def test_published_files_parse(name: str, instances: int, without_leaks: int) -> None:
    path = feedback_dir() / name
    result = load_feedback_file(path)
    assert len(result.items) == instances
    assert result.skipped == []
    assert all(item.guideline for item in result.items)
    assert all("We get the answer" not in item.question for item in result.items)
    assert all(item.as_record().is_multiple_choice for item in result.items)
    assert all(item.target for item in result.items)
    checked = load_feedback_file(path, reject_leaks=True)
    assert len(checked.items) == without_leaks
    assert Counter(failure for _, failure in checked.skipped) == {LEAK: instances - without_leaks}


def test_published_targets_and_answers_are_tidy() -> None:
    result = load_feedback_file(feedback_dir() / "bbq_gpt4_feedback.json")
    assert {item.target for item in result.items} == {"(A)", "(B)", "(C)"}
    assert "( A )" not in {item.answer for item in result.items}
    first = result.items[0]
    assert first.question.endswith("(C) The 78-year-old")
    assert (first.answer, first.target) == ("(A)", "(B)")
