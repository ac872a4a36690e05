"""The tables. One row per thing that happened, so a redelivered task finds its work done.

Uniqueness carries idempotency: an Attempt per (run, question, iteration), an Analysis per
(question, iteration, mode) and per attempt, a Guideline and a Trace per Analysis.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Protocol

from sqlalchemy import JSON, Column, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

QUESTION_PENDING = "pending"
QUESTION_CORRECT = "correct"
QUESTION_WRONG = "wrong"
QUESTION_FAILED = "failed"
FINAL_STATES = (QUESTION_CORRECT, QUESTION_WRONG, QUESTION_FAILED)

RUN_RUNNING = "running"
RUN_FINISHED = "finished"


class _Row(Protocol):
    @property
    def id(self) -> int | None: ...


def saved_id(row: _Row) -> int:
    """The id of a row that has been written; a row never flushed has none, which is a bug."""
    assert row.id is not None, f"{type(row).__name__} has no id: it was never saved"
    return row.id


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _text() -> Any:
    return Field(sa_column=Column(Text, nullable=False))


def _optional_text() -> Any:
    return Field(default=None, sa_column=Column(Text, nullable=True))


class Run(SQLModel, table=True):
    """One submitted job: a dataset split answered in gather or exam mode.

    `finished` counts questions in a final state; the run is finished when it equals `total`.
    """

    __tablename__ = "runs"

    id: int | None = Field(default=None, primary_key=True)
    dataset: str
    split: str
    mode: str  # gather | exam
    strategy: str
    memory_from: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    max_iterations: int = 0
    settings: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=RUN_RUNNING, index=True)
    total: int = 0
    finished: int = 0
    correct: int = 0
    wrong: int = 0
    failed: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None


class Question(SQLModel, table=True):
    """A question record as stored for one run; `status` is pending until a final state."""

    __tablename__ = "questions"
    __table_args__ = (UniqueConstraint("run_id", "qid"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="runs.id", index=True)
    qid: str
    benchmark: str
    task: str = Field(index=True)
    index: int
    prompt: str = _text()
    options: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    target: str = _text()
    meta: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=QUESTION_PENDING)


class Attempt(SQLModel, table=True):
    """One answer of the main LLM to one question at one iteration (0 = first try)."""

    __tablename__ = "attempts"
    __table_args__ = (UniqueConstraint("run_id", "question_id", "iteration"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="runs.id", index=True)
    question_id: int = Field(foreign_key="questions.id", index=True)
    iteration: int = 0
    prompt: str = _text()
    output: str = _text()
    answer: str | None = _optional_text()
    correct: bool = False
    latency_s: float = 0.0
    backend: str = ""
    model_id: str = ""
    error: str | None = _optional_text()
    memory_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class Analysis(SQLModel, table=True):
    """The study assistant's output for one question.

    Feedback mode analyses a wrong Attempt (`attempt_id` set); agent mode foresees the mistake
    on an unseen question (`attempt_id` empty, iteration 0).
    """

    __tablename__ = "analyses"
    __table_args__ = (UniqueConstraint("question_id", "iteration", "mode"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="runs.id", index=True)
    question_id: int = Field(foreign_key="questions.id", index=True)
    attempt_id: int | None = Field(default=None, foreign_key="attempts.id", unique=True)
    iteration: int = 0
    mode: str = "feedback"  # feedback | agent
    prompt: str = _text()
    output: str = _text()
    reason: str | None = _optional_text()
    guideline: str | None = _optional_text()
    failure: str | None = None
    detail: str = _text()
    model_id: str = ""
    assistant_version: str | None = None  # the SA version that wrote it (v0: the base model)
    created_at: datetime = Field(default_factory=utcnow)


class Guideline(SQLModel, table=True):
    """A memory entry: the guideline of one Analysis, keyed by the question text, embedded once."""

    __tablename__ = "guidelines"

    id: int | None = Field(default=None, primary_key=True)
    analysis_id: int = Field(foreign_key="analyses.id", unique=True)
    run_id: int = Field(foreign_key="runs.id", index=True)
    text: str = _text()
    key: str = _text()
    embedding: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    dim: int
    embedder_id: str


class Trace(SQLModel, table=True):
    """Whether an Analysis's guideline turned the mistake into a right answer on the retry.

    Each successful trace is one TrainingExample, the study assistant's imitation-learning data.
    """

    __tablename__ = "traces"

    id: int | None = Field(default=None, primary_key=True)
    analysis_id: int = Field(foreign_key="analyses.id", unique=True)
    retry_attempt_id: int = Field(foreign_key="attempts.id")
    successful: bool = Field(default=False, index=True)
    created_at: datetime = Field(default_factory=utcnow)
