"""The generic JSON Lines format and content-based format detection, on small files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from salam.data import QuestionRecord, load_questions


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_targets_given_as_label_letter_or_text_become_labels(tmp_path: Path) -> None:
    rows: list[dict[str, Any]] = [
        {"question": "2 + 3?", "options": ["4", "5", "6"], "target": "(B)"},
        {"question": "2 + 2?", "options": ["4", "5", "6"], "target": "A"},
        {"question": "3 + 3?", "options": ["4", "5", "6"], "target": "6"},
        {"question": "Capital of France?", "target": "Paris"},
    ]
    questions = load_questions(str(write_jsonl(tmp_path / "sums.jsonl", rows)))
    assert [q.target for q in questions] == ["(B)", "(A)", "(C)", "Paris"]
    assert questions[0].prompt == "2 + 3?\nOptions:\n(A) 4\n(B) 5\n(C) 6"
    assert questions[0].options == ("4", "5", "6")
    assert questions[3].prompt == "Capital of France?"
    assert not questions[3].is_multiple_choice
    assert [q.id for q in questions] == [f"sums/sums/{i}" for i in range(4)]


def test_tasks_ids_and_extra_fields(tmp_path: Path) -> None:
    rows: list[dict[str, Any]] = [
        {"question": "a?", "target": "1", "task": "alpha", "id": "q-1", "source": "book"},
        {"question": "b?", "target": "2", "task": "beta"},
        {"question": "c?", "target": 3, "task": "alpha"},
    ]
    questions = load_questions(str(write_jsonl(tmp_path / "mine.jsonl", rows)))
    assert [(q.id, q.task, q.index) for q in questions] == [
        ("q-1", "alpha", 0),
        ("mine/beta/0", "beta", 0),
        ("mine/alpha/1", "alpha", 1),
    ]
    assert questions[0].meta == {"source": "book"}
    assert questions[2].target == "3"


def test_question_with_its_own_options_block_is_not_given_a_second(tmp_path: Path) -> None:
    prompt = "Pick one.\nOptions:\n(A) red\n(B) blue"
    rows: list[dict[str, Any]] = [
        {"question": prompt, "options": ["red", "blue"], "target": "blue"},
        {"question": prompt, "target": "(A)"},
    ]
    questions = load_questions(str(write_jsonl(tmp_path / "colours.jsonl", rows)))
    assert [q.prompt for q in questions] == [prompt, prompt]
    assert [q.options for q in questions] == [("red", "blue"), ("red", "blue")]
    assert [q.target for q in questions] == ["(B)", "(A)"]


def test_round_trip_of_loaded_questions(tmp_path: Path) -> None:
    original = load_questions("generated", limit=5)
    rows: list[dict[str, Any]] = [
        {"question": q.prompt, "options": list(q.options), "target": q.target, "task": q.task,
         "id": q.id}
        for q in original
    ]  # fmt: skip
    reloaded = load_questions(str(write_jsonl(tmp_path / "copy.jsonl", rows)))
    assert [(q.id, q.task, q.index, q.prompt, q.target, q.options) for q in reloaded] == [
        (q.id, q.task, q.index, q.prompt, q.target, q.options) for q in original
    ]


def test_folder_mixes_formats_and_numbers_a_task_across_files(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "a.jsonl", [{"question": "x?", "target": "1", "task": "t"}])
    write_jsonl(tmp_path / "b.jsonl", [{"question": "y?", "target": "2", "task": "t"}])
    bbh = {"examples": [{"input": "Q\nOptions:\n(A) no\n(B) yes", "target": "(B)"}]}
    (tmp_path / "yesno.json").write_text(json.dumps(bbh))
    (tmp_path / "README.md").write_text("not questions")
    questions = load_questions(str(tmp_path))
    ids = [q.id for q in questions]
    assert ids == [f"{tmp_path.name}/t/0", f"{tmp_path.name}/t/1", "bbh/yesno/0"]
    assert questions[2].options == ("no", "yes")


def test_paper_style_json_list_without_options_reads_them_from_the_input(
    tmp_path: Path,
) -> None:
    records = [{"input": "Who?\nOptions:\n(A) me\n(B) you", "target": "(B)", "category": "Age"}]
    (tmp_path / "Age.json").write_text(json.dumps(records))
    [question] = load_questions(str(tmp_path / "Age.json"))
    assert (question.id, question.options, question.target) == (
        "bbq-sm/Age/0",
        ("me", "you"),
        "(B)",
    )


def test_single_line_bbq_file_is_told_from_its_keys(tmp_path: Path) -> None:
    row = {"context": "C.", "question": "Q?", "ans0": "x", "ans1": "y", "ans2": "z", "label": 1}
    [question] = load_questions(str(write_jsonl(tmp_path / "Religion.jsonl", [row])))
    assert isinstance(question, QuestionRecord)
    assert question.prompt == "C. Q?\nOptions:\n(A) x\n(B) y\n(C) z"
    assert (question.task, question.target) == ("Religion", "(B)")


def test_utf8_byte_order_mark_and_blank_lines_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"question": "caf\xc3\xa9?", "target": "yes"}\n\n')
    [question] = load_questions(str(path))
    assert question.prompt == "café?"
