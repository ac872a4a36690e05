"""deploy/'s Redis and PostgreSQL set-up, run for real without Docker: Redis started by
deploy/redis/start.sh with its ACL file, the PostgreSQL init script on a fresh database, and
salam working through the application's logins only."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from workers.private_redis import free_loopback_port, redis_server_binary
from workers.processes import start_process, stop_process

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
APP_USER = "salam"
APP_PASSWORD = "app-s3cret"


@pytest.fixture
def acl_redis(tmp_path: Path, wait_until: Callable[..., None]) -> Iterator[int]:
    """A Redis started as the compose file starts it; yields its port."""
    port = free_loopback_port()
    folder = tmp_path / "redis"
    folder.mkdir()
    command = ["sh", str(DEPLOY / "redis" / "start.sh"), str(redis_server_binary()),
               str(DEPLOY / "redis" / "redis.conf"), "--port", str(port),
               "--bind", "127.0.0.1", "--dir", str(folder), "--maxmemory", "64mb"]  # fmt: skip
    env = {
        "REDIS_APP_USER": APP_USER,
        "REDIS_APP_PASSWORD": APP_PASSWORD,
        "REDIS_ACL_FILE": str(folder / "acl" / "users.acl"),
    }
    process = start_process(command, env=env, log_path=tmp_path / "redis.log")
    try:
        wait_until(lambda: _answers(port), 20, "Redis with the ACL file")
        yield port
    finally:
        stop_process(process, grace_s=5)


def _answers(port: int) -> bool:
    client = redis.Redis(port=port, username=APP_USER, password=APP_PASSWORD)
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False
    finally:
        client.close()


def test_redis_takes_only_the_app_login_and_no_admin_command(acl_redis: int) -> None:
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=acl_redis).ping()  # the default user is off
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=acl_redis, username="default", password="").ping()
    app = redis.Redis(port=acl_redis, username=APP_USER, password=APP_PASSWORD)
    for command in (("FLUSHALL",), ("CONFIG", "GET", "maxmemory"), ("KEYS", "*"), ("ACL", "LIST")):
        with pytest.raises(redis.exceptions.NoPermissionError):
            app.execute_command(*command)
    app.close()


def test_the_redis_password_is_on_no_command_line(acl_redis: int, tmp_path: Path) -> None:
    lines = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                lines.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
            except OSError:
                continue
    assert any(f":{acl_redis}" in line or str(acl_redis) in line for line in lines)
    assert not any(APP_PASSWORD in line for line in lines)
    acl_file = tmp_path / "redis" / "acl" / "users.acl"
    assert acl_file.stat().st_mode & 0o077 == 0, "the ACL file is readable by others"
    assert APP_PASSWORD not in acl_file.read_text()  # only its SHA-256


def test_a_gather_run_through_the_app_redis_user(
    acl_redis: int, jobs: Any, sqlite_url: str, workers: Callable[[dict[str, str]], Any]
) -> None:
    broker = f"redis://{APP_USER}:{APP_PASSWORD}@127.0.0.1:{acl_redis}/0"
    env = jobs.env(sqlite_url, SALAM_BROKER_URL=broker)
    workers(env).start("llm,assistant")
    run_id = jobs.submit("generated", "--mode", "gather", "--limit", "3", "--wait", env=env)
    status = jobs.salam("status", str(run_id), env=env)
    assert f"run {run_id}" in status.stdout and "finished" in status.stdout, status.stdout


@pytest.fixture
def app_database(postgres_url: str) -> Iterator[str]:
    """A fresh database set up by deploy/postgres/10-app-role.sh; yields the app role's URL."""
    psql = shutil.which("psql")
    if psql is None:
        pytest.skip("no psql to run the init script with")
    version = subprocess.run([psql, "--version"], capture_output=True, text=True, check=True)
    major = re.search(r" (\d+)\.", version.stdout)
    if major is None or int(major.group(1)) < 15:
        pytest.skip(f"the init script needs psql 15 or newer (\\getenv): {version.stdout}")
    admin_url = make_url(postgres_url)
    name = f"salam_app_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        _run_init_script(admin_url, name)
        app_url = admin_url.set(database=name, username=name, password=APP_PASSWORD)
        yield app_url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'DROP ROLE IF EXISTS "{name}"'))
        admin.dispose()


def _run_init_script(admin_url: URL, database: str) -> None:
    env = {
        **os.environ,
        "PGHOST": admin_url.host or "127.0.0.1",
        "PGPORT": str(admin_url.port or 5432),
        "PGPASSWORD": admin_url.password or "",
        "POSTGRES_USER": admin_url.username or "postgres",
        "POSTGRES_DB": database,
        "POSTGRES_APP_USER": database,
        "POSTGRES_APP_PASSWORD": APP_PASSWORD,
    }
    script = str(DEPLOY / "postgres" / "10-app-role.sh")
    for _ in range(2):  # safe to run again on an initialised database
        done = subprocess.run(["sh", script], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr


def test_the_app_role_migrates_its_database_and_is_no_superuser(app_database: str) -> None:
    from models import dispose_engines, get_engine

    app_url = app_database
    try:
        get_engine(app_url)  # creates or migrates the schema as the app role
        with create_engine(app_url).connect() as connection:
            tables = connection.execute(
                text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            ).scalar_one()
            role = connection.execute(
                text(
                    "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles "
                    "WHERE rolname = current_user"
                )
            ).one()
    finally:
        dispose_engines()
    assert tables > 0
    assert tuple(role) == (False, False, False)


def test_the_init_script_refuses_the_superuser_as_app_role() -> None:
    env = {
        **os.environ,
        "POSTGRES_USER": "postgres",
        "POSTGRES_DB": "salam",
        "POSTGRES_APP_USER": "postgres",
        "POSTGRES_APP_PASSWORD": "x",
    }
    script = str(DEPLOY / "postgres" / "10-app-role.sh")
    done = subprocess.run(["sh", script], env=env, capture_output=True, text=True)
    assert done.returncode == 1 and "must not be the superuser" in done.stderr
