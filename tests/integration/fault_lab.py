"""A small job system to break on purpose: a private Redis the lab stops and restarts, a
database (optionally behind a proxy it cuts), worker processes it starts and kills, the
`salam` command line, and a count of what each question ended as.

Used by tests/integration/test_reliability.py and by benchmarks/faults.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import redis
from sqlalchemy import func
from sqlmodel import col, select

from models import Attempt, Question, session_scope
from workers.private_redis import PrivateRedis
from workers.processes import start_process, stop_process, worker_command

PROJECT_ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Outcome:
    """What the questions of a run ended as."""

    total: int
    states: Counter[str]
    duplicated: int  # (question, iteration) pairs answered more than once: must stay 0

    @property
    def pending(self) -> int:
        return self.states["pending"]

    @property
    def settled(self) -> int:
        return self.total - self.pending


@dataclass
class FaultLab:
    root: Path
    database_url: str
    persistent_broker: bool = False
    settings: dict[str, str] = field(default_factory=dict)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.redis = PrivateRedis(self.root / "redis", persistent=self.persistent_broker)
        self.broker_url = self.redis.start()

    def env(self, **overrides: str) -> dict[str, str]:
        return {
            "SALAM_BROKER_URL": self.broker_url,
            "SALAM_DATABASE_URL": self.database_url,
            "SALAM_HOME": str(self.root / "home"),
            "SALAM_MAIN_BACKEND": "dummy",
            "SALAM_SA_BACKEND": "dummy",
            "SALAM_EMBEDDER": "hash",
            "SALAM_CHUNK_SIZE": "4",
            "SALAM_STALL_MINUTES": "0.05",
            "PYTHONUNBUFFERED": "1",
            **self.settings,
            **overrides,
        }

    def start_worker(
        self, queues: str = "llm,assistant", **overrides: str
    ) -> subprocess.Popen[bytes]:
        number = len(self.workers)
        log = self.root / "logs" / f"worker-{number}.log"
        command = worker_command(queues.split(","), name=f"lab{number}")
        process = start_process(command, env=self.env(**overrides), log_path=log)
        self.workers.append(process)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while " ready." not in log.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"worker {number} not ready; see {log}")
            time.sleep(0.2)
        return process

    def kill_worker(self, process: subprocess.Popen[bytes]) -> None:
        """SIGKILL the whole worker (its process group), as a machine that dies would."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    def salam(
        self, *args: str, timeout_s: float = 300, **overrides: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from salam.cli import main; sys.exit(main())",
                *args,
            ],
            env={**os.environ, **self.env(**overrides)},
            capture_output=True,
            text=True,
            timeout=timeout_s,
            cwd=PROJECT_ROOT,
            check=False,
        )

    def submit(self, dataset: Path, *args: str, **overrides: str) -> int:
        done = self.salam("submit", str(dataset), "--split", "all", *args, **overrides)
        assert done.returncode == 0, done.stderr
        return int(done.stdout.split("submitted run ")[1].split()[0])

    def outcome(self, run_id: int) -> Outcome:
        with session_scope(url=self.database_url) as session:
            states = Counter(
                session.exec(select(Question.status).where(Question.run_id == run_id)).all()
            )
            per_pair = session.exec(
                select(func.count())
                .select_from(Attempt)
                .where(Attempt.run_id == run_id)
                .group_by(col(Attempt.question_id), col(Attempt.iteration))
            ).all()
        return Outcome(sum(states.values()), states, sum(1 for n in per_pair if n > 1))

    def wait_settled(
        self, run_id: int, timeout_s: float, *, tick: Callable[[], None] | None = None
    ) -> float:
        """Seconds until every question of the run is final (AssertionError past `timeout_s`);
        `tick` runs between polls (e.g. the watchdog)."""
        started = time.monotonic()
        while self.outcome(run_id).pending:
            if time.monotonic() - started > timeout_s:
                raise AssertionError(
                    f"run {run_id} not settled after {timeout_s:.0f} s: {self.outcome(run_id)}"
                )
            if tick is not None:
                tick()
            time.sleep(0.5)
        return time.monotonic() - started

    def watchdog(self) -> None:
        done = self.salam("watchdog", timeout_s=120)
        assert done.returncode == 0, done.stderr

    def redis_client(self) -> redis.Redis:
        return redis.Redis.from_url(self.broker_url)

    def restart_broker(self) -> None:
        self.redis.stop()
        self.redis.start()

    def close(self) -> None:
        for process in self.workers:
            stop_process(process, grace_s=10)
        self.redis.stop()


def write_dataset(path: Path, scripts: Sequence[str] | Mapping[str, str]) -> Path:
    """One question per script (the dummy backend's directive, see `salam.llm.dummy`), named
    by the mapping's keys or numbered; the right answer is always (B)."""
    named = scripts if isinstance(scripts, Mapping) else {f"q{n}": s for n, s in enumerate(scripts)}
    lines = [
        {
            "id": name,
            "question": f"[dummy {script}] Question {name}: which is second?",
            "options": ["first", "second", "third"],
            "target": "B",
            "task": "scripted",
        }
        for name, script in named.items()
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path
