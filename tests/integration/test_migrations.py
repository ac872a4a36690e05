"""Schema migrations on SQLite and PostgreSQL: an old database with rows in it upgrades
without losing them, a database made by `create_all` before migrations is adopted, processes
starting together upgrade once, and the newest revision is exactly the tables in `models`."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from conftest import POSTGRES_URL, PROJECT_ROOT
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

from models import Analysis, Question, Run, TrainingExample, get_examples, session_scope
from models.engine import dispose_engines, make_engine
from models.schema import INITIAL_REVISION, current_revision, head_revision, upgrade_schema

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with nothing in it, of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"salam_migration_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as err:
        admin.dispose()
        pytest.skip(f"no PostgreSQL at SALAM_TEST_POSTGRES_URL={POSTGRES_URL}: {err}")
    yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    dispose_engines()
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _initial_database_with_rows(url: str) -> Engine:
    """A database at the initial revision holding a gather run whose retry succeeded,
    written in plain SQL (the tables in `models` are the newest ones)."""
    engine = make_engine(url)
    upgrade_schema(engine, INITIAL_REVISION)
    rows: list[tuple[str, dict[str, Any]]] = [
        ("runs", {"id": 1, "dataset": "generated", "split": "train", "mode": "gather",
                  "strategy": "feedback_only", "memory_from": "[]", "max_iterations": 1,
                  "settings": '{"seed": 0}', "status": "finished", "total": 1, "finished": 1,
                  "correct": 1, "wrong": 0, "failed": 0, "created_at": NOW}),
        ("questions", {"id": 1, "run_id": 1, "qid": "g/sums/0", "benchmark": "g", "task": "sums",
                       "index": 0, "prompt": "1+1?\nOptions:\n(A) 2\n(B) 3",
                       "options": '["2", "3"]', "target": "(A)", "meta": "{}",
                       "status": "correct"}),
        ("attempts", {"id": 1, "run_id": 1, "question_id": 1, "iteration": 0, "prompt": "p",
                      "output": "(B)", "answer": "(B)", "correct": False, "latency_s": 0.5,
                      "backend": "dummy", "model_id": "m", "memory_ids": "[]",
                      "created_at": NOW}),
        ("attempts", {"id": 2, "run_id": 1, "question_id": 1, "iteration": 1, "prompt": "p2",
                      "output": "(A)", "answer": "(A)", "correct": True, "latency_s": 0.5,
                      "backend": "dummy", "model_id": "m", "memory_ids": '["mistake:1"]',
                      "created_at": NOW}),
        ("analyses", {"id": 1, "run_id": 1, "question_id": 1, "attempt_id": 1, "iteration": 0,
                      "mode": "feedback", "prompt": "SA prompt", "output": '{"reason": "r"}',
                      "reason": "r", "guideline": "g", "detail": "", "model_id": "sa",
                      "created_at": NOW}),
        ("guidelines", {"id": 1, "analysis_id": 1, "run_id": 1, "text": "g", "key": "1+1?",
                        "embedding": b"\x00\x01\x02\x03", "dim": 1, "embedder_id": "hash"}),
        ("traces", {"id": 1, "analysis_id": 1, "retry_attempt_id": 2, "successful": True,
                    "finetune_job_id": None, "created_at": NOW}),
    ]  # fmt: skip
    with engine.begin() as connection:
        for table, values in rows:
            columns = ", ".join(f'"{name}"' for name in values)
            marks = ", ".join(f":{name}" for name in values)
            connection.execute(text(f"INSERT INTO {table} ({columns}) VALUES ({marks})"), values)
        if connection.dialect.name == "postgresql":  # the rows above set their ids themselves
            for table in ("runs", "questions", "attempts", "analyses", "guidelines", "traces"):
                connection.execute(
                    text(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))")
                )
    return engine


def test_an_old_database_keeps_its_rows_and_gains_the_new_tables(empty_url: str) -> None:
    engine = _initial_database_with_rows(empty_url)
    assert upgrade_schema(engine) == INITIAL_REVISION
    assert current_revision(engine) == head_revision()
    engine.dispose()
    with session_scope(url=empty_url) as session:
        run = session.get(Run, 1)
        question = session.get(Question, 1)
        analysis = session.get(Analysis, 1)
        examples = get_examples(session=session)
    assert run is not None and run.settings == {"seed": 0} and run.created_at == NOW
    assert question is not None and question.options == ["2", "3"]
    assert analysis is not None and analysis.guideline == "g"
    assert analysis.assistant_version is None  # written before versions were recorded
    # the successful trace already stored became a training example
    assert [(e.source, e.prompt, e.completion, e.run_id) for e in examples] == [
        ("trace:1", "SA prompt", '{"reason": "r"}', 1)
    ]
    assert examples[0].options == ["2", "3"] and examples[0].finetune_job_id is None
    with session_scope(write=True, url=empty_url) as session:  # new rows get fresh ids
        session.add(TrainingExample(prompt="p", completion="c", prompt_version="1", source="s"))
        session.flush()
        assert len(get_examples(session=session)) == 2


def test_a_database_made_before_migrations_is_adopted(empty_url: str) -> None:
    engine = _initial_database_with_rows(empty_url)
    with engine.begin() as connection:  # what `create_all` left: the tables, no revision
        connection.execute(text("DROP TABLE alembic_version"))
    assert current_revision(engine) == INITIAL_REVISION
    upgrade_schema(engine)
    assert current_revision(engine) == head_revision()
    assert "training_examples" in inspect(engine).get_table_names()
    engine.dispose()


def test_the_newest_revision_is_exactly_the_tables_in_models(empty_url: str) -> None:
    engine = make_engine(empty_url)
    upgrade_schema(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []
    engine.dispose()


def test_processes_starting_together_upgrade_once(empty_url: str, tmp_path: Path) -> None:
    env = {"SALAM_DATABASE_URL": empty_url, "SALAM_HOME": str(tmp_path / "home")}
    command = [sys.executable, "-c", "import sys; from salam.cli import main; sys.exit(main())"]
    starters = [
        subprocess.Popen(
            [*command, "db", "upgrade"],
            env={**os.environ, **env},
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [starter.communicate(timeout=120) for starter in starters]
    assert [starter.returncode for starter in starters] == [0, 0, 0], outputs
    said = sorted(out.strip() for out, _ in outputs)
    head = head_revision()
    assert said.count(f"upgraded the database from empty to {head}") == 1, said
    engine = make_engine(empty_url)
    assert current_revision(engine) == head
    engine.dispose()
