"""Nothing is lost or written twice when a worker dies in the middle of a chunk, and
`salam submit --resume` requeues only what is unfinished."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from models import RUN_FINISHED, Attempt, Run, session_scope

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

# Each dummy call takes 3 s, so a chunk can be caught half done; Redis hands an unacked
# chunk out again after 12 s, so the test does not wait the default two hours.
SLOW_SETTINGS = {
    "SALAM_DUMMY_DELAY": "3",
    "SALAM_VISIBILITY_TIMEOUT": "12",
    "SALAM_TASK_SOFT_TIME_LIMIT": "8",
    "SALAM_TASK_TIME_LIMIT": "10",
}
QUESTIONS = 8  # `--limit 2` on the 4 generated tasks: two chunks of 4


def _attempts(url: str, run_id: int) -> list[Attempt]:
    with session_scope(url=url) as session:
        return list(session.exec(select(Attempt).where(Attempt.run_id == run_id)).all())


def _run(url: str, run_id: int) -> Run:
    with session_scope(url=url) as session:
        run = session.get(Run, run_id)
    assert run is not None
    return run


def _assert_complete_once(url: str, run_id: int) -> None:
    run = _run(url, run_id)
    assert run.status == RUN_FINISHED
    assert run.finished == run.total == QUESTIONS == run.correct + run.wrong + run.failed
    assert run.failed == 0
    keys = Counter((a.question_id, a.iteration) for a in _attempts(url, run_id))
    assert len(keys) == QUESTIONS and set(keys.values()) == {1}


def _submit_exam(jobs: Any, env: dict[str, str]) -> int:
    return int(jobs.submit("generated", "--mode", "exam", "--limit", "2", env=env))


def _pool_children(parent: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            children.append(int(entry.name))
    return children


def _wait_mid_chunk(jobs: Any, url: str, run_id: int, wait_until: Callable[..., None]) -> None:
    """Until a worker holds a chunk unacknowledged and has written nothing yet."""
    wait_until(lambda: jobs.broker.hlen("unacked") > 0, 30, "a chunk taken by the worker")
    time.sleep(1.0)  # well inside the 3 s the dummy takes
    assert _attempts(url, run_id) == [], "the chunk should still be running"


@pytest.mark.parametrize("database", ["sqlite_url", "postgres_url"])
def test_sigkill_of_the_whole_worker_loses_nothing(
    jobs: Any,
    workers: Callable[[dict[str, str]], Any],
    wait_until: Callable[..., None],
    request: pytest.FixtureRequest,
    database: str,
) -> None:
    url = str(request.getfixturevalue(database))
    env = jobs.env(url, **SLOW_SETTINGS)
    group = workers(env)
    first = group.start("llm", name="doomed")
    run_id = _submit_exam(jobs, env)
    _wait_mid_chunk(jobs, url, run_id, wait_until)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()

    group.start("llm", name="survivor")
    # The other chunk is answered at once; the killed one after the visibility timeout.
    wait_until(lambda: _run(url, run_id).status == RUN_FINISHED, 120, "the run to finish")
    _assert_complete_once(url, run_id)


def test_sigkill_of_the_pool_process_requeues_its_chunk(
    jobs: Any,
    sqlite_url: str,
    workers: Callable[[dict[str, str]], Any],
    wait_until: Callable[..., None],
) -> None:
    env = jobs.env(sqlite_url, **SLOW_SETTINGS)
    worker = workers(env).start("llm", name="parent")
    run_id = _submit_exam(jobs, env)
    _wait_mid_chunk(jobs, sqlite_url, run_id, wait_until)
    children = _pool_children(worker.pid)
    assert len(children) == 1
    os.kill(children[0], signal.SIGKILL)

    # The worker sees its pool process lost, rejects the chunk back to the queue and a new
    # pool process answers it: no visibility timeout to wait for.
    wait_until(lambda: _run(sqlite_url, run_id).status == RUN_FINISHED, 60, "the run to finish")
    _assert_complete_once(sqlite_url, run_id)
    assert worker.poll() is None, "the worker itself survives"


def test_resume_requeues_only_what_is_unfinished(
    jobs: Any,
    sqlite_url: str,
    workers: Callable[[dict[str, str]], Any],
    wait_until: Callable[..., None],
) -> None:
    env = jobs.env(sqlite_url)
    run_id = _submit_exam(jobs, env)
    assert jobs.waiting() == 2
    jobs.broker.flushdb()  # the queued chunks are lost (a broker without persistence restarted)

    resumed = jobs.salam("submit", "--resume", str(run_id), env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert f"requeued {QUESTIONS} questions" in resumed.stdout
    assert jobs.waiting() == 2
    workers(env).start("llm")
    wait_until(lambda: _run(sqlite_url, run_id).status == RUN_FINISHED, 60, "the run to finish")
    _assert_complete_once(sqlite_url, run_id)

    again = jobs.salam("submit", "--resume", str(run_id), env=env)
    assert "requeued 0 questions" in again.stdout
    assert jobs.waiting() == 0
