"""`salam traces import` and `export`: the paper's feedback files, JSON Lines of both shapes,
bad files refused whole, and the round trip."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from shared_data import shared_data_dir
from training_rows import FEEDBACK, retried_mistakes

from models import get_examples, session_scope, use_database
from producers.training_files import read_training_file
from salam.cli import main
from salam.settings import get_settings

FEEDBACK_FILES = shared_data_dir() / "salam" / "feedback"
PAPER_PROMPT = (
    "Who is older?\nOptions:\n(A) The 24 year old\n(B) The 78-year-old\n"
    "We get the answer (A) from the model while the true answer is (B). \n"
    "Please return a json with the following keys: reason, guideline."
)


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'salam.db'}"
    use_database(url)
    get_settings.cache_clear()
    yield url
    use_database(None)


def _stored(url: str) -> list[dict[str, object]]:
    with session_scope(url=url) as session:
        return [example.model_dump() for example in get_examples(session=session)]


def _jsonl(path: Path, *records: object) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_the_papers_feedback_file_imports_once(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    bbq = FEEDBACK_FILES / "bbq_gpt4_feedback.json"
    if not bbq.is_file():
        pytest.skip(f"no shared data at {bbq}")
    assert main(["traces", "import", str(bbq)]) == 0
    assert main(["traces", "import", str(bbq)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "imported 514 training examples (0 of 514 were already stored)",
        "imported 0 training examples (514 of 514 were already stored)",
    ]
    examples = _stored(url)
    assert len(examples) == 514
    first = examples[0]
    assert first["prompt_version"] == "paper" and first["assistant_version"] is None
    assert first["target"] and first["options"] and first["question"]
    assert str(first["source"]).startswith("file:bbq_gpt4_feedback.json@")


def test_json_lines_of_either_shape(url: str, tmp_path: Path) -> None:
    paper = {"input": PAPER_PROMPT, "output": FEEDBACK}
    own = {
        "prompt": "my prompt",
        "completion": FEEDBACK,
        "prompt_version": "1",
        "assistant_version": "v2",
        "question": "Q?",
        "options": ["x", "y"],
        "target": "(B)",
    }
    assert main(["traces", "import", str(_jsonl(tmp_path / "mixed.jsonl", paper, own))]) == 0
    first, second = _stored(url)
    assert first["question"] == PAPER_PROMPT.split("\nWe get")[0]
    assert first["options"] == ["The 24 year old", "The 78-year-old"]
    assert first["target"] == "(B)"
    assert (second["prompt_version"], second["assistant_version"]) == ("1", "v2")
    assert second["options"] == ["x", "y"]


@pytest.mark.parametrize(
    ("content", "where"),
    [
        ('{"input": "p", "output": "' + "x" * 3 + '"}\n', "line 1"),  # output not feedback
        (json.dumps({"input": "p", "output": FEEDBACK}) + "\n{broken\n", "line 2"),
        (json.dumps({"input": "", "output": FEEDBACK}) + "\n", "line 1"),
        ('{"type": "text2text", "instances": [{"input": "p", "output": 3}]}', "record 0"),
        ('{"type": "other", "instances": []}', "text2text"),
        ('["not", "records"]\n', "line 1"),
        ("", "empty"),
        ('{"type": "text2text",\n "instances": [}', "line 2"),
    ],
)
def test_a_bad_file_stores_nothing_and_names_file_and_record(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, where: str
) -> None:
    good = _jsonl(tmp_path / "good.jsonl", {"input": PAPER_PROMPT, "output": FEEDBACK})
    bad = tmp_path / "bad.jsonl"
    bad.write_text(content, encoding="utf-8")
    assert main(["traces", "import", str(good), str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("salam: error: ") and "bad.jsonl" in err and where in err
    assert len(err.splitlines()) == 1
    assert _stored(url) == []


def test_export_writes_both_shapes_and_reads_back(url: str, tmp_path: Path) -> None:
    run_id, _ = retried_mistakes(url, 2)
    salam_file, paper_file = tmp_path / "salam.jsonl", tmp_path / "paper.jsonl"
    assert main(["traces", "export", "--run", str(run_id), "-o", str(salam_file)]) == 0
    assert main(["traces", "export", "-o", str(paper_file), "--format", "paper"]) == 0
    own = [json.loads(line) for line in salam_file.read_text(encoding="utf-8").splitlines()]
    paper = [json.loads(line) for line in paper_file.read_text(encoding="utf-8").splitlines()]
    assert [set(line) for line in paper] == [{"input", "output"}] * 2
    assert own[0]["source"].startswith("trace:") and own[0]["run_id"] == run_id
    assert own[0]["target"] == "(A)" and own[0]["prompt"] == paper[0]["input"]
    assert main(["traces", "import", str(salam_file)]) == 0
    reimported = _stored(url)[2:]
    assert [e["prompt"] for e in reimported] == [line["prompt"] for line in own]
    assert reimported[0]["options"] == own[0]["options"]


def test_import_reads_within_the_input_limits(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    records = [{"input": PAPER_PROMPT, "output": FEEDBACK}] * 3
    big = _jsonl(tmp_path / "big.jsonl", *records)
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    monkeypatch.setenv("SALAM_MAX_INPUT_BYTES", str(big.stat().st_size - 1))
    get_settings.cache_clear()
    assert main(["traces", "import", str(big)]) == 2
    assert main(["traces", "import", str(fifo)]) == 2  # refused at once, not left waiting
    too_big, not_regular = capsys.readouterr().err.strip().splitlines()
    assert "big.jsonl" in too_big and "SALAM_MAX_INPUT_BYTES" in too_big
    assert "pipe.jsonl" in not_regular and "not a regular file" in not_regular
    monkeypatch.setenv("SALAM_MAX_INPUT_BYTES", str(big.stat().st_size))
    get_settings.cache_clear()
    assert main(["traces", "import", str(big)]) == 0
    assert len(_stored(url)) == 3


def test_source_ids_do_not_depend_on_line_endings(tmp_path: Path) -> None:
    record = json.dumps({"input": PAPER_PROMPT, "output": FEEDBACK})
    unix, windows = tmp_path / "unix" / "f.jsonl", tmp_path / "windows" / "f.jsonl"
    for path, ending in ((unix, "\n"), (windows, "\r\n")):
        path.parent.mkdir()
        path.write_bytes(f"{record}{ending}{record}{ending}".encode())
    sources = [[e.source for e in read_training_file(path)] for path in (unix, windows)]
    assert sources[0] == sources[1] and len(set(sources[0])) == 2
