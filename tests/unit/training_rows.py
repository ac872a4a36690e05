"""Rows of a gather run whose retries succeeded, written through the real data functions:
the material training examples are made of."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from models import (
    Analysis,
    Attempt,
    Run,
    Trace,
    TrainingExample,
    add_examples,
    analyses_of_attempts,
    attempts_at,
    create_run,
    question_ids,
    record_analyses,
    record_attempts,
    record_examples_of_traces,
    record_traces,
    saved_id,
    session_scope,
    use_database,
)
from salam.settings import get_settings


def training_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **settings: str
) -> Iterator[str]:
    """A fresh SQLite database in use for one test, with the given SALAM_ settings set (for a
    fixture to `yield from`); yields its URL."""
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    url = f"sqlite:///{tmp_path / 'salam.db'}"
    use_database(url)
    yield url
    use_database(None)
    get_settings.cache_clear()


FEEDBACK = '{"reason": "misread the options", "guideline": "Read every option first."}'


def gather_run(url: str, count: int) -> tuple[int, list[int]]:
    """A gather run of `count` questions; returns (run id, question ids)."""
    questions = [
        {
            "qid": f"generated/sums/{index}",
            "benchmark": "generated",
            "task": "sums",
            "index": index,
            "prompt": f"What is {index} + 1?\nOptions:\n(A) {index + 1}\n(B) {index}",
            "options": [str(index + 1), str(index)],
            "target": "(A)",
            "meta": {},
        }
        for index in range(count)
    ]
    with session_scope(write=True, url=url) as session:
        run = Run(dataset="generated", split="train", mode="gather", strategy="feedback_only")
        run_id = saved_id(create_run(session=session, run=run, questions=questions))
        return run_id, question_ids(session=session, run_id=run_id)


def retried_mistakes(url: str, count: int, *, right: int | None = None) -> tuple[int, list[int]]:
    """`count` mistakes analysed and retried, the first `right` (default all) retries right;
    traces and examples written as the answer step writes them. Returns (run, analysis ids)."""
    run_id, ids = gather_run(url, count)
    right = count if right is None else right
    with session_scope(write=True, url=url) as session:
        record_attempts(session=session, attempts=[_attempt(run_id, q, 0, False) for q in ids])
        first = attempts_at(session=session, run_id=run_id, question_ids=ids, iteration=0)
        record_analyses(
            session=session,
            analyses=[_analysis(run_id, attempt) for attempt in first.values()],
        )
        analyses = analyses_of_attempts(
            session=session, attempt_ids=[saved_id(a) for a in first.values()]
        )
        retries = [_attempt(run_id, q, 1, n < right) for n, q in enumerate(ids)]
        record_attempts(session=session, attempts=retries)
        second = attempts_at(session=session, run_id=run_id, question_ids=ids, iteration=1)
        traces = [
            Trace(
                analysis_id=saved_id(analyses[saved_id(first[q])]),
                retry_attempt_id=saved_id(second[q]),
                successful=second[q].correct,
            )
            for q in ids
        ]
        record_traces(session=session, traces=traces)
        analysis_ids = [trace.analysis_id for trace in traces]
        record_examples_of_traces(session=session, analysis_ids=analysis_ids, prompt_version="1")
    return run_id, analysis_ids


def imported_examples(url: str, count: int, *, start: int = 0) -> None:
    with session_scope(write=True, url=url) as session:
        add_examples(
            session=session,
            examples=[
                TrainingExample(
                    prompt=f"prompt {n}",
                    completion=FEEDBACK,
                    prompt_version="paper",
                    source=f"file:test@0:{n}",
                )
                for n in range(start, start + count)
            ],
        )


def _attempt(run_id: int, question_id: int, iteration: int, correct: bool) -> Attempt:
    return Attempt(
        run_id=run_id,
        question_id=question_id,
        iteration=iteration,
        prompt="p",
        output="(A)" if correct else "(B)",
        answer="(A)" if correct else "(B)",
        correct=correct,
    )


def _analysis(run_id: int, attempt: Attempt) -> Analysis:
    return Analysis(
        run_id=run_id,
        question_id=attempt.question_id,
        attempt_id=attempt.id,
        prompt=f"SA prompt for question {attempt.question_id}",
        output=FEEDBACK,
        reason="misread the options",
        guideline="Read every option first.",
        detail="",
        assistant_version="v0",
    )
