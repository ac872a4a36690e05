"""The study assistant the workers use follows the active version: a promotion reaches the
next analysis without a restart, and each analysis records the version that wrote it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from models import (
    Analysis,
    AssistantVersion,
    activate_version,
    add_version,
    question_ids,
    session_scope,
    use_base_model,
    use_database,
)
from producers.submit import Submission, submit_questions
from salam.data import generate_benchmark
from salam.embedding import HashEmbedder
from salam.settings import Settings, get_settings
from workers import resources
from workers.analyzing import analyze_chunk
from workers.answering import answer_chunk


@pytest.fixture
def workers_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    use_database(f"sqlite:///{tmp_path / 'salam.db'}")
    monkeypatch.setenv("SALAM_MAIN_BACKEND", "dummy")
    monkeypatch.setenv("SALAM_SA_BACKEND", "dummy")
    get_settings.cache_clear()
    embedder = HashEmbedder()
    monkeypatch.setattr(resources, "embedder", lambda: embedder)
    monkeypatch.setattr(resources, "embedder_id", lambda: "hash")
    monkeypatch.setattr(resources, "_holder", {})
    monkeypatch.setattr("producers.submit.publish_answers", lambda *args: 0)
    yield
    get_settings.cache_clear()
    use_database(None)


def _promote(name: str, adapter: Path) -> None:
    with session_scope(write=True) as session:
        add_version(
            session=session,
            version=AssistantVersion(name=name, base_model="base", adapter_path=str(adapter)),
        )
        activate_version(session=session, name=name)


def _versions_written() -> list[str | None]:
    with session_scope() as session:
        rows = session.exec(select(Analysis).order_by(Analysis.id)).all()  # type: ignore[arg-type]
        return [row.assistant_version for row in rows]


def test_analyses_record_the_version_active_when_they_ran(
    workers_env: None, tmp_path: Path
) -> None:
    questions = generate_benchmark(per_task=3)
    run_id = submit_questions(Submission("generated"), questions, get_settings())
    with session_scope() as session:
        ids = question_ids(session=session, run_id=run_id)
    [first, second] = ids[:6], ids[6:]
    analyze_ids = [f.args[1] for f in answer_chunk(run_id, first, 0) if f.task == "salam.analyze"]
    for attempt_ids in analyze_ids:
        analyze_chunk(run_id, attempt_ids)
    assert set(_versions_written()) == {"v0"}, "the base model before any promotion"

    _promote("v7", tmp_path / "adapter-7")
    before = len(_versions_written())
    for follow_up in answer_chunk(run_id, second, 0):
        if follow_up.task == "salam.analyze":
            analyze_chunk(run_id, follow_up.args[1])
    assert set(_versions_written()[before:]) == {"v7"}, "promoted, no restart"


def test_the_local_study_assistant_carries_the_active_adapter(
    workers_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SALAM_SA_BACKEND", "local")
    get_settings.cache_clear()
    base = resources.assistant_llm()
    assert base.version == "v0" and "@" not in base.llm.model_id

    adapter = tmp_path / "adapter-3"
    _promote("v3", adapter)
    promoted = resources.assistant_llm()
    assert promoted.version == "v3"
    assert promoted.llm.model_id.endswith(f"@{adapter}")
    assert resources.assistant_llm() is promoted, "one backend per version and process"

    with session_scope(write=True) as session:
        use_base_model(session=session)
    assert resources.assistant_llm().version == "v0", "a rollback reaches the next task too"


def test_a_fixed_server_adapter_wins_over_the_version_name() -> None:
    from salam.llm import RoleConfig

    settings = Settings(sa_backend="tgi", sa_url="http://sa", sa_adapter="pinned")
    config = RoleConfig.from_settings("sa", settings).with_adapter("v3", "/adapters/3")
    assert (config.adapter, config.adapter_path) == ("pinned", "/adapters/3")
    config = RoleConfig.from_settings("sa", Settings()).with_adapter("v3", "/adapters/3")
    assert config.adapter == "v3"
