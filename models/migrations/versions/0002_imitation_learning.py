"""Imitation learning: training examples, fine-tuning jobs, study-assistant versions; the SA
version on each analysis. Traces lose `finetune_job_id` (the examples carry the job now), and
every successful trace already stored becomes an example.

Revision ID: 0002
Revises: 0001
Create Date: 2025-06-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# The only prompt version there was before this revision (salam.prompts.PROMPT_VERSION).
PROMPT_VERSION_BEFORE = "1"


def upgrade() -> None:
    # First, while no table references `traces`: SQLite drops the column by copying the table,
    # and with foreign keys on it could not drop a table that others point at.
    with op.batch_alter_table("traces") as traces:
        traces.drop_index("ix_traces_finetune_job_id")
        traces.drop_column("finetune_job_id")
    op.add_column("analyses", sa.Column("assistant_version", sa.String(), nullable=True))
    _create_finetune_jobs()
    _create_assistant_versions()
    _create_training_examples()
    _examples_from_stored_traces()


def downgrade() -> None:
    for table in ("training_examples", "assistant_versions", "finetune_jobs"):
        op.drop_table(table)
    with op.batch_alter_table("analyses") as analyses:
        analyses.drop_column("assistant_version")
    with op.batch_alter_table("traces") as traces:
        traces.add_column(sa.Column("finetune_job_id", sa.Integer(), nullable=True))
        traces.create_index("ix_traces_finetune_job_id", ["finetune_job_id"])


def _create_finetune_jobs() -> None:
    op.create_table(
        "finetune_jobs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("base_model", sa.String(), nullable=True),
        sa.Column("example_count", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("total_steps", sa.Integer(), nullable=True),
        sa.Column("loss", sa.Float(), nullable=True),
        sa.Column("trained_tokens", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("adapter_path", sa.String(), nullable=True),
        sa.Column("log_path", sa.String(), nullable=True),
        sa.Column("decision", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_finetune_jobs_status", "finetune_jobs", ["status"])


def _create_assistant_versions() -> None:
    op.create_table(
        "assistant_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(), nullable=False, unique=True),
        sa.Column("base_model", sa.String(), nullable=False),
        sa.Column("adapter_path", sa.String(), nullable=False),
        sa.Column(
            "finetune_job_id",
            sa.Integer(),
            sa.ForeignKey("finetune_jobs.id"),
            nullable=True,
            unique=True,
        ),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
    )
    # At most one active version: the database refuses a second one.
    op.create_index(
        "ix_assistant_versions_one_active",
        "assistant_versions",
        ["active"],
        unique=True,
        sqlite_where=sa.text("active"),
        postgresql_where=sa.text("active"),
    )


def _create_training_examples() -> None:
    op.create_table(
        "training_examples",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("completion", sa.Text(), nullable=False),
        sa.Column("prompt_version", sa.String(), nullable=False),
        sa.Column("assistant_version", sa.String(), nullable=True),
        sa.Column("source", sa.String(), nullable=False, unique=True),
        sa.Column("trace_id", sa.Integer(), sa.ForeignKey("traces.id"), nullable=True, unique=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id"), nullable=True),
        sa.Column("question", sa.Text(), nullable=True),
        sa.Column("options", sa.JSON(), nullable=True),
        sa.Column("target", sa.Text(), nullable=True),
        sa.Column(
            "finetune_job_id", sa.Integer(), sa.ForeignKey("finetune_jobs.id"), nullable=True
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_training_examples_run_id", "training_examples", ["run_id"])
    op.create_index(
        "ix_training_examples_finetune_job_id", "training_examples", ["finetune_job_id"]
    )


def _examples_from_stored_traces() -> None:
    """Every successful trace is an example; those recorded before this revision too."""
    traces = sa.table(
        "traces",
        sa.column("id", sa.Integer()),
        sa.column("analysis_id", sa.Integer()),
        sa.column("successful", sa.Boolean()),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    analyses = sa.table(
        "analyses",
        sa.column("id", sa.Integer()),
        sa.column("run_id", sa.Integer()),
        sa.column("question_id", sa.Integer()),
        sa.column("prompt", sa.Text()),
        sa.column("output", sa.Text()),
    )
    questions = sa.table(
        "questions",
        sa.column("id", sa.Integer()),
        sa.column("prompt", sa.Text()),
        sa.column("options", sa.JSON()),
        sa.column("target", sa.Text()),
    )
    examples = sa.table(
        "training_examples",
        *(
            sa.column(name)
            for name in (
                "prompt",
                "completion",
                "prompt_version",
                "source",
                "trace_id",
                "run_id",
                "question",
                "options",
                "target",
                "created_at",
            )
        ),
    )
    rows = (
        sa.select(
            analyses.c.prompt,
            analyses.c.output,
            sa.literal(PROMPT_VERSION_BEFORE),
            sa.literal("trace:") + sa.cast(traces.c.id, sa.String()),
            traces.c.id,
            analyses.c.run_id,
            questions.c.prompt,
            questions.c.options,
            questions.c.target,
            traces.c.created_at,
        )
        .select_from(traces)
        .join(analyses, analyses.c.id == traces.c.analysis_id)
        .join(questions, questions.c.id == analyses.c.question_id)
        .where(traces.c.successful.is_(True))
    )
    op.execute(examples.insert().from_select(list(examples.c.keys()), rows))
