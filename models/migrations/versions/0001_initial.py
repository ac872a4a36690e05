"""The schema as `create_all` made it before migrations: runs, questions, attempts, analyses,
guidelines, traces.

A database made by `create_all` then has no `alembic_version` table; `models.schema` stamps it
at this revision instead of running it.

Revision ID: 0001
Revises:
Create Date: 2025-06-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    _create_runs()
    _create_questions()
    _create_attempts()
    _create_analyses()
    _create_guidelines()
    _create_traces()


def downgrade() -> None:
    for table in ("traces", "guidelines", "analyses", "attempts", "questions", "runs"):
        op.drop_table(table)


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer(), primary_key=True)


def _created_at() -> sa.Column[object]:
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False)


def _create_runs() -> None:
    op.create_table(
        "runs",
        _id(),
        sa.Column("dataset", sa.String(), nullable=False),
        sa.Column("split", sa.String(), nullable=False),
        sa.Column("mode", sa.String(), nullable=False),
        sa.Column("strategy", sa.String(), nullable=False),
        sa.Column("memory_from", sa.JSON(), nullable=False),
        sa.Column("max_iterations", sa.Integer(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("finished", sa.Integer(), nullable=False),
        sa.Column("correct", sa.Integer(), nullable=False),
        sa.Column("wrong", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        _created_at(),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_runs_status", "runs", ["status"])


def _create_questions() -> None:
    op.create_table(
        "questions",
        _id(),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("qid", sa.String(), nullable=False),
        sa.Column("benchmark", sa.String(), nullable=False),
        sa.Column("task", sa.String(), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.UniqueConstraint("run_id", "qid"),
    )
    op.create_index("ix_questions_run_id", "questions", ["run_id"])
    op.create_index("ix_questions_task", "questions", ["task"])


def _create_attempts() -> None:
    op.create_table(
        "attempts",
        _id(),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("question_id", sa.Integer(), sa.ForeignKey("questions.id"), nullable=False),
        sa.Column("iteration", sa.Integer(), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("output", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("correct", sa.Boolean(), nullable=False),
        sa.Column("latency_s", sa.Float(), nullable=False),
        sa.Column("backend", sa.String(), nullable=False),
        sa.Column("model_id", sa.String(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("memory_ids", sa.JSON(), nullable=False),
        _created_at(),
        sa.UniqueConstraint("run_id", "question_id", "iteration"),
    )
    op.create_index("ix_attempts_question_id", "attempts", ["question_id"])
    op.create_index("ix_attempts_run_id", "attempts", ["run_id"])


def _create_analyses() -> None:
    op.create_table(
        "analyses",
        _id(),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("question_id", sa.Integer(), sa.ForeignKey("questions.id"), nullable=False),
        sa.Column(
            "attempt_id", sa.Integer(), sa.ForeignKey("attempts.id"), nullable=True, unique=True
        ),
        sa.Column("iteration", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("output", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("guideline", sa.Text(), nullable=True),
        sa.Column("failure", sa.String(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("model_id", sa.String(), nullable=False),
        _created_at(),
        sa.UniqueConstraint("question_id", "iteration", "mode"),
    )
    op.create_index("ix_analyses_question_id", "analyses", ["question_id"])
    op.create_index("ix_analyses_run_id", "analyses", ["run_id"])


def _create_guidelines() -> None:
    op.create_table(
        "guidelines",
        _id(),
        sa.Column(
            "analysis_id", sa.Integer(), sa.ForeignKey("analyses.id"), nullable=False, unique=True
        ),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("embedder_id", sa.String(), nullable=False),
    )
    op.create_index("ix_guidelines_run_id", "guidelines", ["run_id"])


def _create_traces() -> None:
    op.create_table(
        "traces",
        _id(),
        sa.Column(
            "analysis_id", sa.Integer(), sa.ForeignKey("analyses.id"), nullable=False, unique=True
        ),
        sa.Column("retry_attempt_id", sa.Integer(), sa.ForeignKey("attempts.id"), nullable=False),
        sa.Column("successful", sa.Boolean(), nullable=False),
        sa.Column("finetune_job_id", sa.Integer(), nullable=True),
        _created_at(),
    )
    op.create_index("ix_traces_finetune_job_id", "traces", ["finetune_job_id"])
    op.create_index("ix_traces_successful", "traces", ["successful"])
