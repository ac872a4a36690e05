"""Input within bounds: regular files only, a size and a question limit with clear errors, and
memory that follows what is kept, not the size of the file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from salam.data import load_questions
from salam.errors import DataError
from salam.settings import get_settings

GOOD = {"question": "2 + 3?", "options": ["4", "5"], "target": "5"}
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Set SALAM_MAX_* for one test with `limits.setenv`."""
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def set_limit(limits: pytest.MonkeyPatch, name: str, value: int) -> None:
    limits.setenv(name, str(value))
    get_settings.cache_clear()


def load_error(spec: str | Path) -> DataError:
    with pytest.raises(DataError) as caught:
        load_questions(str(spec))
    return caught.value


def write_questions(path: Path, count: int, tail: str = "") -> Path:
    with path.open("w", encoding="utf-8") as out:
        for number in range(count):
            out.write(json.dumps({**GOOD, "id": f"q{number}"}) + "\n")
        out.write(tail)
    return path


@pytest.mark.timeout(20)
def test_a_fifo_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "questions.jsonl"
    os.mkfifo(fifo)
    error = load_error(fifo)
    assert error.source == str(fifo)
    assert "not a regular file (a FIFO (named pipe))" in error.problem
    assert "\n" not in str(error)


@pytest.mark.timeout(20)
@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_dev_zero_is_refused_without_reading_it() -> None:
    error = load_error("/dev/zero")
    assert error.source == "/dev/zero"
    assert "not a regular file (a character device)" in error.problem


def test_a_link_to_a_regular_file_is_read(tmp_path: Path) -> None:
    target = write_questions(tmp_path / "real.jsonl", 2)
    link = tmp_path / "link.jsonl"
    link.symlink_to(target)
    assert len(load_questions(str(link))) == 2


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(
    tmp_path: Path, limits: pytest.MonkeyPatch
) -> None:
    path = write_questions(tmp_path / "big.jsonl", 100)
    set_limit(limits, "SALAM_MAX_INPUT_BYTES", 1000)
    error = load_error(path)
    assert error.source == str(path)
    assert "over the 1,000 bytes limit (SALAM_MAX_INPUT_BYTES=1000)" in error.problem
    set_limit(limits, "SALAM_MAX_INPUT_BYTES", path.stat().st_size)
    assert len(load_questions(str(path))) == 100


@pytest.mark.parametrize("name", ["big.json", "big.jsonl"])
def test_a_bbh_or_paper_file_over_the_limit_is_refused(
    tmp_path: Path, limits: pytest.MonkeyPatch, name: str
) -> None:
    examples = [{"input": f"Q{i}?", "target": "True"} for i in range(100)]
    path = tmp_path / name
    path.write_text(json.dumps({"examples": examples}, indent=1))
    set_limit(limits, "SALAM_MAX_INPUT_BYTES", 2000)
    assert "SALAM_MAX_INPUT_BYTES" in load_error(path).problem


def test_the_question_limit_stops_the_load_before_the_end_of_the_file(
    tmp_path: Path, limits: pytest.MonkeyPatch
) -> None:
    # A broken last line is never reached: the limit is hit first.
    path = write_questions(tmp_path / "many.jsonl", 1000, tail="not json\n")
    set_limit(limits, "SALAM_MAX_QUESTIONS", 10)
    error = load_error(path)
    assert error.source == str(path)
    assert error.problem.startswith("more than 10 questions (SALAM_MAX_QUESTIONS=10)")


def test_the_question_limit_counts_every_file_of_a_folder(
    tmp_path: Path, limits: pytest.MonkeyPatch
) -> None:
    for part in ("a", "b", "c"):
        with (tmp_path / f"{part}.jsonl").open("w") as out:
            out.writelines(json.dumps({**GOOD, "id": f"{part}{i}"}) + "\n" for i in range(4))
    set_limit(limits, "SALAM_MAX_QUESTIONS", 12)
    assert len(load_questions(str(tmp_path))) == 12
    set_limit(limits, "SALAM_MAX_QUESTIONS", 11)
    assert "more than 11 questions" in load_error(tmp_path).problem


def test_the_question_limit_holds_for_named_datasets(
    tmp_path: Path, limits: pytest.MonkeyPatch
) -> None:
    row = {"context": "C.", "question": "Q?", "ans0": "x", "ans1": "y", "ans2": "z", "label": 1}
    (tmp_path / "bbq").mkdir()
    with (tmp_path / "bbq" / "Age.jsonl").open("w") as out:
        out.writelines(json.dumps({**row, "example_id": i}) + "\n" for i in range(20))
    set_limit(limits, "SALAM_MAX_QUESTIONS", 5)
    with pytest.raises(DataError, match="more than 5 questions"):
        load_questions("bbq", data_dir=tmp_path, tasks=["Age"])


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("garbage\n" + "x\n" * 10, "invalid JSON at line 1, column 1: Expecting value"),
        ("\n\n{nope}\n", "invalid JSON at line 3, column 2"),
        ('{"examples": []}\n{"more": 1}\n', "invalid JSON at line 2, column 1: Extra data"),
        ('{"examples": [\n  {"input": }\n]}', "invalid JSON at line 2, column 13"),
    ],
)
def test_invalid_json_is_named_by_line(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "task.json"
    path.write_text(content)
    assert problem in load_error(path).problem


def test_a_one_line_json_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "task.json"
    path.write_text(json.dumps({"examples": [{"input": "Q?", "target": "True"}]}))
    assert [q.target for q in load_questions(str(path))] == ["True"]


PEAK_GROWTH = """
import resource, sys
from salam.data import load_questions
from salam.errors import DataError
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    load_questions(sys.argv[1])
except DataError as err:
    print(err)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", ["short.jsonl", "short.json"])
def test_a_large_file_of_short_lines_fails_at_line_1_in_little_memory(
    tmp_path: Path, name: str
) -> None:
    path = tmp_path / name
    with path.open("w") as out:
        out.write("not json\n")
        for _ in range(50):
            out.write("x\n" * 400_000)  # 40 MB in all
    assert path.stat().st_size > 40_000_000
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(PEAK_GROWTH), str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        timeout=100,
    )
    message, growth_mb = result.stdout.strip().splitlines()
    assert "line 1" in message and "invalid JSON" in message
    assert int(growth_mb) < 20, f"peak memory grew {growth_mb} MB for a 40 MB file"
