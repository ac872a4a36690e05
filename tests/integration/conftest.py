"""Real services for the job-system tests: Redis (a test database, flushed before each
test), SQLite and PostgreSQL (a fresh database per session, dropped after), and worker
processes started with `celery -A workers.app worker`.

    SALAM_TEST_REDIS_URL     default redis://127.0.0.1:6379/15
    SALAM_TEST_POSTGRES_URL  default postgresql+psycopg2://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from models import dispose_engines
from workers.processes import start_process, stop_process, worker_command
from workers.queues import queue_lengths

REDIS_URL = os.environ.get("SALAM_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
POSTGRES_URL = os.environ.get(
    "SALAM_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)
WORKER_READY_TIMEOUT_S = 60.0
PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def redis_url() -> str:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as err:
        pytest.skip(f"no Redis at SALAM_TEST_REDIS_URL={REDIS_URL}: {err}")
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def broker(redis_url: str) -> Iterator[redis.Redis]:
    """The test Redis database, empty: no queued or unacknowledged message of another test."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"salam_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as err:  # any failure to reach or use the server means: no PostgreSQL here
        admin.dispose()
        pytest.skip(f"no PostgreSQL at SALAM_TEST_POSTGRES_URL={POSTGRES_URL}: {err}")
    yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    dispose_engines()
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'salam.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'salam.db'}"


@dataclass
class Jobs:
    """The job system of one test: its settings, the command line, the queues."""

    redis_url: str
    home: Path
    broker: redis.Redis

    def env(self, database_url: str, **overrides: str) -> dict[str, str]:
        """Settings for workers and commands: dummy LLMs, the hash embedder, these services."""
        return {
            "SALAM_BROKER_URL": self.redis_url,
            "SALAM_DATABASE_URL": database_url,
            "SALAM_HOME": str(self.home),
            "SALAM_MAIN_BACKEND": "dummy",
            "SALAM_SA_BACKEND": "dummy",
            "SALAM_EMBEDDER": "hash",
            "SALAM_CHUNK_SIZE": "4",
            "PYTHONUNBUFFERED": "1",
            **overrides,
        }

    def salam(
        self, *args: str, env: Mapping[str, str], timeout_s: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """Run the `salam` command line in a subprocess with these settings."""
        return subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from salam.cli import main; sys.exit(main())",
                *args,
            ],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=timeout_s,
            cwd=PROJECT_ROOT,
            check=False,
        )

    def submit(self, *args: str, env: Mapping[str, str]) -> int:
        """`salam submit ARGS`; returns the new run's id."""
        result = self.salam("submit", *args, env=env)
        assert result.returncode == 0, result.stderr
        found = re.search(r"submitted run (\d+)", result.stdout)
        assert found, result.stdout
        return int(found.group(1))

    def waiting(self) -> int:
        """Messages waiting in the three queues."""
        return sum(queue_lengths(self.broker).values())


@pytest.fixture
def jobs(broker: redis.Redis, redis_url: str, tmp_path: Path) -> Jobs:
    return Jobs(redis_url, tmp_path / "home", broker)


@dataclass
class Workers:
    """Worker processes of one test; all stopped when the test ends."""

    folder: Path
    env: dict[str, str]
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(
        self, queues: str = "llm,assistant", *, name: str = "w", extra_env: Mapping[str, str] = ()
    ) -> subprocess.Popen[bytes]:
        log = self.log(len(self.started), name)
        command = worker_command(queues.split(","), name=f"{name}{len(self.started)}")
        process = start_process(command, env={**self.env, **dict(extra_env)}, log_path=log)
        self.started.append(process)
        wait_for(
            lambda: " ready." in log.read_text(errors="replace"),
            WORKER_READY_TIMEOUT_S,
            f"worker {name} ready (log {log})",
            process,
        )
        return process

    def log(self, number: int, name: str = "w") -> Path:
        return self.folder / f"worker-{name}-{number}.log"

    def stop_all(self) -> None:
        for process in self.started:
            stop_process(process, grace_s=10)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], Workers]]:
    """`workers(env).start(queues)`; every worker started is stopped after the test."""
    made: list[Workers] = []

    def make(env: dict[str, str]) -> Workers:
        made.append(Workers(tmp_path / "logs", env))
        return made[-1]

    yield make
    for group in made:
        group.stop_all()


def wait_for(
    condition: Callable[[], bool],
    timeout_s: float,
    what: str,
    process: subprocess.Popen[bytes] | None = None,
) -> None:
    deadline = time.monotonic() + timeout_s
    while not _holds(condition):
        if process is not None and process.poll() is not None:
            raise AssertionError(f"process exited ({process.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.2)


@pytest.fixture
def wait_until() -> Callable[..., None]:
    """`wait_until(condition, timeout_s, what)`: poll until the condition holds."""
    return wait_for


def _holds(condition: Callable[[], bool]) -> bool:
    try:
        return condition()
    except FileNotFoundError:
        return False
