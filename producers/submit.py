"""`salam submit`: validate everything, store the run and its questions in one transaction,
then publish the chunks. Bad input raises before anything is stored or published."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from models import (
    Run,
    create_run,
    finish_if_empty,
    get_runs,
    question_ids,
    session_scope,
)
from salam.data.splits import SPLIT_NAMES, SplitName
from salam.errors import BrokerUnavailable, ConfigError, DataError
from salam.lifecycle import RETRY_STRATEGY
from salam.masking import mask_urls_in_values
from salam.records import QuestionRecord
from salam.settings import Settings
from salam.strategies import STRATEGIES, Strategy, needs_memory
from workers.publishing import publish_answers, publish_predictions

Mode = Literal["gather", "exam"]
MODES: tuple[Mode, ...] = ("gather", "exam")
# Settings that name where things live or hold secrets stay out of a run's snapshot; the
# URLs that stay (main_url, sa_url) are recorded with their passwords masked.
UNRECORDED_SETTINGS = {
    "api_key",
    "flower_user",
    "flower_password",
    "broker_url",
    "result_backend",
    "database_url",
}


@dataclass(frozen=True)
class Submission:
    """What to run: a dataset split, a mode, a strategy and the memory it may read."""

    dataset: str
    split: SplitName = "all"
    mode: Mode = "gather"
    strategy: Strategy | None = None
    memory_from: tuple[int, ...] = ()
    limit: int | None = None
    tasks: tuple[str, ...] | None = None
    data_dir: Path | None = None
    chunk_size: int | None = None

    @property
    def resolved_strategy(self) -> Strategy:
        """Gather retries use guidelines only; an exam defaults to the question alone."""
        if self.strategy is not None:
            return self.strategy
        return RETRY_STRATEGY if self.mode == "gather" else "none"


def load_submission(submission: Submission, settings: Settings) -> list[QuestionRecord]:
    """The questions of the submission's dataset split; raises DataError on bad files."""
    from salam.data import load_split

    split = load_split(
        submission.dataset,
        data_dir=submission.data_dir,
        tasks=list(submission.tasks) if submission.tasks else None,
        limit=submission.limit,
        seed=settings.seed,
    )
    return split.part(submission.split)


def submit(submission: Submission, settings: Settings) -> int:
    """Load, validate, store and publish; returns the new run's id."""
    check_submission(submission, settings)
    return submit_questions(submission, load_submission(submission, settings), settings)


def submit_questions(
    submission: Submission, questions: Sequence[QuestionRecord], settings: Settings
) -> int:
    """Store the run and its questions, then publish; returns the run id."""
    check_submission(submission, settings)
    check_unique_ids(submission.dataset, questions)
    run = Run(
        dataset=submission.dataset,
        split=submission.split,
        mode=submission.mode,
        strategy=submission.resolved_strategy,
        memory_from=list(submission.memory_from),
        max_iterations=settings.max_iterations if submission.mode == "gather" else 0,
        settings=recorded_settings(settings),
    )
    with session_scope(write=True) as session:
        run_id = int(
            create_run(session=session, run=run, questions=question_rows(questions)).id or 0
        )
        finish_if_empty(session=session, run_id=run_id)
        ids = question_ids(session=session, run_id=run_id)
    chunk_size = submission.chunk_size or settings.chunk_size
    try:
        if run.strategy == "agent":
            publish_predictions(run_id, ids, chunk_size)
        else:
            publish_answers(run_id, ids, 0, chunk_size)
    except BrokerUnavailable as err:
        raise BrokerUnavailable(
            f"{err}; run {run_id} is stored: `salam submit --resume {run_id}` queues it once "
            "the broker is up (beat's watchdog does too, after SALAM_STALL_MINUTES)"
        ) from err
    return run_id


def recorded_settings(settings: Settings) -> dict[str, Any]:
    """The settings a run keeps, as JSON: no secrets, no passwords inside URLs."""
    return mask_urls_in_values(settings.model_dump(mode="json", exclude=UNRECORDED_SETTINGS))


def check_submission(submission: Submission, settings: Settings) -> None:
    if submission.split not in SPLIT_NAMES:
        raise ConfigError(f"unknown split {submission.split!r}: choose {', '.join(SPLIT_NAMES)}")
    if submission.mode not in MODES:
        raise ConfigError(f"unknown mode {submission.mode!r}: choose {', '.join(MODES)}")
    strategy = submission.resolved_strategy
    if strategy not in STRATEGIES:
        raise ConfigError(f"unknown strategy {strategy!r}: choose from {', '.join(STRATEGIES)}")
    if submission.mode == "gather" and strategy != RETRY_STRATEGY:
        raise ConfigError(
            f"a gather run retries each mistake with its guidelines ({RETRY_STRATEGY}); "
            "--strategy is for exams"
        )
    if submission.chunk_size is not None and submission.chunk_size < 1:
        raise ConfigError(f"--chunk-size must be at least 1, got {submission.chunk_size}")
    if submission.mode == "exam" and needs_memory(strategy) and not submission.memory_from:
        raise ConfigError(
            f"the {strategy} strategy reads a mistake memory: name the gather run(s) with "
            "--memory-from"
        )
    if submission.memory_from:
        check_memory_runs(submission.memory_from)


def check_memory_runs(run_ids: Sequence[int]) -> None:
    with session_scope() as session:
        runs = get_runs(session=session, run_ids=list(run_ids))
    found = {run.id: run for run in runs}
    missing = [str(run_id) for run_id in run_ids if run_id not in found]
    if missing:
        raise ConfigError(f"--memory-from names no run {', '.join(missing)}")
    exams = [str(run.id) for run in runs if run.mode != "gather"]
    if exams:
        raise ConfigError(f"--memory-from needs gather runs; run {', '.join(exams)} is an exam")


def check_unique_ids(source: str, questions: Sequence[QuestionRecord]) -> None:
    repeated = [qid for qid, count in Counter(q.id for q in questions).items() if count > 1]
    if repeated:
        raise DataError(source, "question id appears more than once", record=repeated[0])


def question_rows(questions: Sequence[QuestionRecord]) -> list[dict[str, Any]]:
    """The Question columns of each record (see `models.create_run`)."""
    return [
        {
            "qid": question.id,
            "benchmark": question.benchmark,
            "task": question.task,
            "index": question.index,
            "prompt": question.prompt,
            "options": list(question.options),
            "target": question.target,
            "meta": dict(question.meta),
        }
        for question in questions
    ]
