"""The loaders on the real benchmark files in the shared data folder."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from shared_data import shared_data_dir

from salam.data import (
    BBH_SALAM_TASKS,
    BBH_TASKS,
    BBQ_CATEGORIES,
    QuestionRecord,
    load_questions,
    split_questions,
)

SHARED = shared_data_dir()
pytestmark = pytest.mark.skipif(
    not (SHARED / "bbh").is_dir(),
    reason=f"shared benchmark data not found at {SHARED}; set SALAM_TEST_SHARED_DATA",
)


def _per_task(questions: list[QuestionRecord]) -> Counter[str]:
    return Counter(question.task for question in questions)


@pytest.fixture(scope="module")
def bbq_salam() -> list[QuestionRecord]:
    return load_questions("bbq-salam", data_dir=SHARED)


@pytest.fixture(scope="module")
def bbh() -> list[QuestionRecord]:
    return load_questions("bbh", data_dir=SHARED)


def test_bbq_salam_has_11_categories_of_250(bbq_salam: list[QuestionRecord]) -> None:
    assert _per_task(bbq_salam) == dict.fromkeys(BBQ_CATEGORIES, 250)
    assert {question.benchmark for question in bbq_salam} == {"bbq-sm"}


def test_bbq_sm_record_keeps_input_and_strips_option_labels(
    bbq_salam: list[QuestionRecord],
) -> None:
    raw = json.loads((SHARED / "salam" / "bbq_sm" / "Age.json").read_text())[0]
    first = bbq_salam[0]
    assert first.id == "bbq-sm/Age/0"
    assert first.prompt == raw["input"]
    assert first.target == raw["target"]
    assert [f"{label} {text}" for label, text in zip(first.labels, first.options, strict=True)] == (
        raw["options"]
    )
    assert first.meta["example_id"] == str(raw["example_id"])
    assert all(question.target in question.labels for question in bbq_salam)


def test_bbq_salam_splits_200_50_per_category(bbq_salam: list[QuestionRecord]) -> None:
    split = split_questions(bbq_salam)
    assert _per_task(split.train) == dict.fromkeys(BBQ_CATEGORIES, 200)
    assert _per_task(split.test) == dict.fromkeys(BBQ_CATEGORIES, 50)
    assert {q.index for q in split.train if q.task == "SES"} == set(range(200))
    assert {q.index for q in split.test if q.task == "SES"} == set(range(200, 250))


def test_bbh_salam_preset_is_the_papers_16_tasks() -> None:
    listed = json.loads((SHARED / "salam" / "bbh_tasks.json").read_text())
    questions = load_questions("bbh-salam", data_dir=SHARED)
    assert tuple(_per_task(questions)) == tuple(listed) == BBH_SALAM_TASKS
    assert _per_task(questions)["date_understanding"] == 250
    # three upstream questions whose options were split at commas are kept free-form
    free_form = [question.id for question in questions if not question.is_multiple_choice]
    assert free_form == [
        "bbh/movie_recommendation/163",
        "bbh/ruin_names/99",
        "bbh/ruin_names/144",
    ]


def test_bbh_has_all_27_tasks_in_original_sizes(bbh: list[QuestionRecord]) -> None:
    sizes = _per_task(bbh)
    assert tuple(sizes) == BBH_TASKS
    for task, count in sizes.items():
        raw = json.loads((SHARED / "bbh" / f"{task}.json").read_text())
        assert count == len(raw["examples"]), task


def test_bbh_multiple_choice_record(bbh: list[QuestionRecord]) -> None:
    raw = json.loads((SHARED / "bbh" / "hyperbaton.json").read_text())["examples"][0]
    question = next(q for q in bbh if q.id == "bbh/hyperbaton/0")
    assert question.prompt == raw["input"]
    assert question.target == raw["target"]
    assert len(question.options) == 2
    assert raw["input"].endswith(f"(B) {question.options[1]}")


def test_bbh_free_form_and_dash_choice_tasks(bbh: list[QuestionRecord]) -> None:
    boolean = [q for q in bbh if q.task == "boolean_expressions"]
    assert {q.target for q in boolean} == {"True", "False"}
    assert not any(q.options for q in boolean)
    fallacies = [q for q in bbh if q.task == "formal_fallacies"]
    assert {q.meta["choices"] for q in fallacies} == {"valid\ninvalid"}
    assert not any(q.options for q in fallacies)
    assert {q.target for q in bbh if q.task == "causal_judgement"} == {"Yes", "No"}


def test_bbq_jsonl_first_record_rendering() -> None:
    questions = load_questions("bbq", data_dir=SHARED, tasks=["Age"], limit=2)
    raw = json.loads((SHARED / "bbq" / "Age.jsonl").read_text().splitlines()[0])
    expected = (
        f"{raw['context']} {raw['question']}\nOptions:\n"
        f"(A) {raw['ans0']}\n(B) {raw['ans1']}\n(C) {raw['ans2']}"
    )
    first = questions[0]
    assert len(questions) == 2
    assert first.prompt == expected
    assert first.target == f"({'ABC'[raw['label']]})"
    assert first.task == "Age"
    assert first.meta["context_condition"] == raw["context_condition"]
    assert first.meta["unknown_option"] == "(C)"


def test_bbq_folder_by_path_loads_every_category_file() -> None:
    questions = load_questions(str(SHARED / "bbq"), limit=3)
    expected = sorted(path.stem for path in (SHARED / "bbq").glob("*.jsonl"))
    assert sorted(_per_task(questions)) == expected
    assert set(_per_task(questions).values()) == {3}


def test_single_bbh_file_by_path() -> None:
    questions = load_questions(str(SHARED / "bbh" / "snarks.json"))
    assert _per_task(questions) == {"snarks": 178}
    assert questions[0].id == "bbh/snarks/0"


def test_limit_applies_before_the_split() -> None:
    questions = load_questions("bbh-salam", data_dir=SHARED, limit=10)
    assert set(_per_task(questions).values()) == {10}
    split = split_questions(questions)
    assert set(_per_task(split.train).values()) == {8}
    assert set(_per_task(split.test).values()) == {2}


def test_flat_data_folder_layout(tmp_path: Path) -> None:
    (tmp_path / "snarks.json").write_bytes((SHARED / "bbh" / "snarks.json").read_bytes())
    questions = load_questions("bbh", data_dir=tmp_path, tasks=["snarks"])
    assert _per_task(questions) == {"snarks": 178}
