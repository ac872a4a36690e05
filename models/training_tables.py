"""The imitation-learning tables: training examples, the fine-tuning jobs that claim them, and
the study-assistant versions those jobs produce.

An example belongs to at most one job (`finetune_job_id`, set by an atomic claim); a job that
fails or is cancelled hands its examples back. At most one version is active (a partial
unique index); none active means the base model, `v0`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, text
from sqlmodel import Field, SQLModel

from models.tables import utcnow

JOB_QUEUED = "queued"
JOB_RUNNING = "running"
JOB_SUCCEEDED = "succeeded"
JOB_FAILED = "failed"
JOB_CANCELLED = "cancelled"
JOB_ENDED = (JOB_SUCCEEDED, JOB_FAILED, JOB_CANCELLED)

BASE_VERSION = "v0"  # the study assistant's base model, with no adapter


class TrainingExample(SQLModel, table=True):
    """One `{prompt, completion}` pair for the study assistant: the SA prompt as sent and the
    output that worked (a successful Trace), or a record of an imported file.

    `source` names where it came from (`trace:12`, `file:NAME@HASH:7`) and is unique, so a
    redelivered task or a second import of the same file adds nothing. The question's text,
    options and target are kept when known: a held-out evaluation checks outputs for leaks.
    """

    __tablename__ = "training_examples"

    id: int | None = Field(default=None, primary_key=True)
    prompt: str = Field(sa_column=Column(Text, nullable=False))
    completion: str = Field(sa_column=Column(Text, nullable=False))
    prompt_version: str
    assistant_version: str | None = None
    source: str = Field(unique=True)
    trace_id: int | None = Field(default=None, foreign_key="traces.id", unique=True)
    run_id: int | None = Field(default=None, foreign_key="runs.id", index=True)
    question: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    options: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    target: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    finetune_job_id: int | None = Field(default=None, foreign_key="finetune_jobs.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)


class FinetuneJob(SQLModel, table=True):
    """A LoRA fine-tune of the study assistant on the examples it claimed.

    queued → running → succeeded | failed | cancelled. `attempt` counts starts: a delivery
    that finds the job running restarts it (its worker died) and owns it from then on; an
    older attempt still alive loses its next progress write and stops.
    """

    __tablename__ = "finetune_jobs"

    id: int | None = Field(default=None, primary_key=True)
    status: str = Field(default=JOB_QUEUED, index=True)
    base_model: str | None = None  # set by the worker that trains: the model it has on disk
    example_count: int = 0
    attempt: int = 0
    step: int = 0
    total_steps: int | None = None
    loss: float | None = None
    trained_tokens: int | None = None
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    metrics: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    adapter_path: str | None = None
    log_path: str | None = None
    decision: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    updated_at: datetime | None = None
    finished_at: datetime | None = None


class AssistantVersion(SQLModel, table=True):
    """A study-assistant adapter a job produced. `activated_at`/`retired_at` keep the order
    of promotions, so a rollback returns to the version active before."""

    __tablename__ = "assistant_versions"
    __table_args__ = (
        Index(
            "ix_assistant_versions_one_active",
            "active",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    base_model: str
    adapter_path: str
    finetune_job_id: int | None = Field(default=None, foreign_key="finetune_jobs.id", unique=True)
    metrics: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    active: bool = False
    created_at: datetime = Field(default_factory=utcnow)
    activated_at: datetime | None = None
    retired_at: datetime | None = None
