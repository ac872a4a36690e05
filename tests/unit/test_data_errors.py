"""Bad input: one DataError that names the file, the record and the problem; nothing loaded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from salam.data import load_questions
from salam.errors import ConfigError, DataError


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def load_error(path: Path) -> DataError:
    with pytest.raises(DataError) as caught:
        load_questions(str(path))
    return caught.value


GOOD = {"question": "2 + 3?", "options": ["4", "5"], "target": "5"}


def test_invalid_json_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "task.json"
    path.write_text('{"examples": [\n  {"input": "x", "target": "y"},\n  {"input": }\n]}')
    error = load_error(path)
    assert error.source == str(path)
    assert "invalid JSON at line 3, column 13" in str(error)
    assert isinstance(error.__cause__, json.JSONDecodeError)


def test_invalid_json_line(tmp_path: Path) -> None:
    path = tmp_path / "mine.jsonl"
    path.write_text(json.dumps(GOOD) + "\n" + '{"question": "x", "target": \n')
    error = load_error(path)
    assert (error.source, error.record) == (str(path), "line 2")
    assert str(error).startswith(f"{path}, record line 2: invalid JSON")


def test_jsonl_line_that_is_not_an_object(tmp_path: Path) -> None:
    path = tmp_path / "mine.jsonl"
    path.write_text(json.dumps(GOOD) + "\n[1, 2]\n")
    error = load_error(path)
    assert error.record == "line 2"
    assert "expected a JSON object, got list" in str(error)


@pytest.mark.parametrize("content", [b"", b"  \n\n"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(content)
    error = load_error(path)
    assert error.source == str(path)
    assert "empty" in error.problem


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin.jsonl"
    path.write_bytes(json.dumps(GOOD).encode() + b'\n{"question": "caf\xe9?", "target": "x"}\n')
    error = load_error(path)
    assert error.source == str(path)
    assert "not UTF-8" in error.problem
    assert "line 2" in error.problem
    assert isinstance(error.__cause__, UnicodeDecodeError)


@pytest.mark.parametrize("missing", ["target", "question"])
def test_missing_field(tmp_path: Path, missing: str) -> None:
    broken = {key: value for key, value in GOOD.items() if key != missing}
    error = load_error(write_jsonl(tmp_path / "mine.jsonl", [GOOD, broken]))
    assert (error.source, error.record) == (str(tmp_path / "mine.jsonl"), "line 2")
    assert error.problem == f"missing '{missing}'"


def test_target_not_among_the_options(tmp_path: Path) -> None:
    error = load_error(write_jsonl(tmp_path / "mine.jsonl", [{**GOOD, "target": "7"}]))
    assert error.record == "line 1"
    assert "target '7' is not one of the options (A)-(B)" in error.problem


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        (["4", "4"], "the same choice twice"),
        ("4, 5", "must be a list of strings"),
        (["4"], "2 to 26 choices"),
        ([], "2 to 26 choices, got 0"),
        (["4", " "], "empty choice"),
    ],
)
def test_bad_options(tmp_path: Path, options: Any, problem: str) -> None:
    error = load_error(write_jsonl(tmp_path / "mine.jsonl", [{**GOOD, "options": options}]))
    assert error.record == "line 1"
    assert problem in error.problem


@pytest.mark.parametrize("options", [{}, {"options": None}])
def test_no_options_field_or_null_means_free_form(tmp_path: Path, options: dict[str, Any]) -> None:
    row = {"question": "2 + 3?", "target": "5", **options}
    (question,) = load_questions(str(write_jsonl(tmp_path / "mine.jsonl", [row])))
    assert (question.options, question.target) == ((), "5")


def test_options_that_contradict_the_question(tmp_path: Path) -> None:
    row = {"question": "Pick.\nOptions:\n(A) a\n(B) b", "options": ["a", "c"], "target": "a"}
    error = load_error(write_jsonl(tmp_path / "mine.jsonl", [row]))
    assert error.record == "line 1"
    assert "differ" in error.problem


def test_duplicate_ids_name_both_records(tmp_path: Path) -> None:
    rows = [{**GOOD, "id": "x"}, {**GOOD, "id": "y"}, {**GOOD, "id": "x"}]
    path = write_jsonl(tmp_path / "mine.jsonl", rows)
    error = load_error(path)
    assert (error.source, error.record) == (str(path), "line 3")
    assert f"duplicate id 'x' (first in {path}, line 1)" in error.problem


def test_duplicate_ids_across_files_of_a_folder(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "a.jsonl", [{**GOOD, "id": "same"}])
    write_jsonl(tmp_path / "b.jsonl", [{**GOOD, "id": "same"}])
    error = load_error(tmp_path)
    assert error.source == str(tmp_path / "b.jsonl")
    assert str(tmp_path / "a.jsonl") in error.problem


def test_bbh_target_outside_the_options(tmp_path: Path) -> None:
    examples = [
        {"input": "Q\nOptions:\n(A) x\n(B) y", "target": "(A)"},
        {"input": "Q\nOptions:\n(A) x\n(B) y", "target": "(C)"},
    ]
    path = tmp_path / "task.json"
    path.write_text(json.dumps({"examples": examples}))
    error = load_error(path)
    assert (error.source, error.record) == (str(path), "examples[1]")
    assert "target '(C)' is not one of the options (A)-(B)" in error.problem


def test_bbh_label_target_without_options(tmp_path: Path) -> None:
    path = tmp_path / "task.json"
    path.write_text(json.dumps({"examples": [{"input": "Q?", "target": "(B)"}]}))
    error = load_error(path)
    assert error.record == "examples[0]"
    assert "no (A), (B)... options" in error.problem


def test_bbh_dash_choice_target_outside_the_choices(tmp_path: Path) -> None:
    path = tmp_path / "task.json"
    example = {"input": "Q?\nOptions:\n- Yes\n- No", "target": "Maybe"}
    path.write_text(json.dumps({"examples": [example]}))
    error = load_error(path)
    assert error.record == "examples[0]"
    assert "not one of the choices ['Yes', 'No']" in error.problem


def test_bbh_missing_input(tmp_path: Path) -> None:
    path = tmp_path / "task.json"
    path.write_text(json.dumps({"examples": [{"target": "True"}]}))
    error = load_error(path)
    assert (error.record, error.problem) == ("examples[0]", "missing 'input'")


def test_bbq_label_out_of_range(tmp_path: Path) -> None:
    row = {"context": "C.", "question": "Q?", "ans0": "x", "ans1": "y", "ans2": "z", "label": 1}
    path = write_jsonl(tmp_path / "Age.jsonl", [row, {**row, "label": 3}])
    error = load_error(path)
    assert (error.source, error.record) == (str(path), "line 2")
    assert "'label' must be 0, 1 or 2, got 3" in error.problem


def test_paper_list_with_unlabelled_options(tmp_path: Path) -> None:
    good = {"input": "Q", "target": "(A)", "options": ["(A) x", "(B) y"]}
    bad = {"input": "Q", "target": "(A)", "options": ["x", "y"]}
    path = tmp_path / "Age.json"
    path.write_text(json.dumps([good, bad]))
    error = load_error(path)
    assert (error.source, error.record) == (str(path), "[1]")
    assert "(A) ..., (B) ..." in error.problem


def test_unknown_format(tmp_path: Path) -> None:
    path = tmp_path / "odd.jsonl"
    path.write_text('{"prompt": "x", "answer": "y"}\n')
    error = load_error(path)
    assert error.source == str(path)
    assert "cannot tell the format" in error.problem
    assert "['answer', 'prompt']" in error.problem


def test_feedback_file_is_recognised_as_not_questions(tmp_path: Path) -> None:
    path = tmp_path / "feedback.json"
    path.write_text(json.dumps({"type": "text2text", "instances": [{"input": "a", "output": "b"}]}))
    assert "study-assistant feedback" in load_error(path).problem


def test_folder_without_question_files(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    error = load_error(tmp_path)
    assert error.source == str(tmp_path)
    assert "no .json or .jsonl question files" in error.problem


def test_folder_with_one_bad_file_loads_nothing(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "a.jsonl", [GOOD])
    write_jsonl(tmp_path / "b.jsonl", [{"question": "x?"}])
    error = load_error(tmp_path)
    assert (error.source, error.record) == (str(tmp_path / "b.jsonl"), "line 1")


def test_missing_path_or_unknown_name_lists_the_names() -> None:
    with pytest.raises(DataError) as caught:
        load_questions("bbh-salm")
    assert caught.value.source == "bbh-salm"
    assert "bbh-salam" in caught.value.problem
    assert "generated" in caught.value.problem


def test_unknown_task_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(DataError) as caught:
        load_questions("generated", tasks=["ordering", "algebra"])
    assert caught.value.source == "generated"
    assert "unknown task algebra; known tasks: arithmetic" in caught.value.problem
    path = write_jsonl(tmp_path / "mine.jsonl", [GOOD])
    with pytest.raises(DataError, match="unknown task nope; known tasks: mine"):
        load_questions(str(path), tasks=["nope"])


def test_limit_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="at least 1"):
        load_questions("generated", limit=0)
