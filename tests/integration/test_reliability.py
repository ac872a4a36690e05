"""No run left stuck, no passing failure made final: a private Redis the test stops and
restarts, a PostgreSQL behind a proxy the test cuts, workers killed, servers scripted to be
down for a while (the dummy backend's `down-until`) or to kill their process (`crash`)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fault_lab import FaultLab, write_dataset
from sqlalchemy.engine import make_url
from tcp_proxy import proxied

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[FaultLab]:
    made = FaultLab(tmp_path, f"sqlite:///{tmp_path / 'salam.db'}")
    yield made
    made.close()


def _complete_once(lab: FaultLab, run_id: int, **states: int) -> None:
    outcome = lab.outcome(run_id)
    assert outcome.pending == 0 and outcome.duplicated == 0, outcome
    for state, count in states.items():
        assert outcome.states[state] == count, outcome


def test_submit_with_the_broker_down_says_so_and_resume_finishes(lab: FaultLab) -> None:
    dataset = write_dataset(lab.root / "d.jsonl", ["main=B"] * 6)
    lab.redis.stop()
    down = lab.salam(
        "submit", str(dataset), SALAM_BROKER_URL=f"redis://:s3cret@127.0.0.1:{lab.redis.port}/0"
    )
    assert down.returncode == 1
    [line] = down.stderr.strip().splitlines()
    assert line.startswith("salam: error: cannot reach the broker redis://:***@127.0.0.1")
    assert "s3cret" not in line and "salam submit --resume 1" in line

    lab.redis.start()
    lab.start_worker()
    resumed = lab.salam("submit", "--resume", "1", "--wait", "--timeout", "120")
    assert resumed.returncode == 0, resumed.stderr
    _complete_once(lab, 1, correct=6)


def test_a_broker_restart_that_loses_the_queue_is_resumed_by_the_watchdog(lab: FaultLab) -> None:
    dataset = write_dataset(lab.root / "d.jsonl", ["main=B"] * 24)
    run_id = lab.submit(dataset, SALAM_CHUNK_SIZE="2")
    assert lab.redis_client().llen("llm") > 0
    lab.restart_broker()  # not persistent: every queued chunk is gone
    assert lab.redis_client().llen("llm") == 0
    lab.start_worker(SALAM_DUMMY_DELAY="0.2")
    lab.wait_settled(run_id, 120, tick=lab.watchdog)
    _complete_once(lab, run_id, correct=24)


def test_with_an_append_only_file_a_broker_restart_loses_nothing(tmp_path: Path) -> None:
    lab = FaultLab(tmp_path, f"sqlite:///{tmp_path / 'salam.db'}", persistent_broker=True)
    try:
        run_id = lab.submit(
            write_dataset(tmp_path / "d.jsonl", ["main=B"] * 24), SALAM_CHUNK_SIZE="2"
        )
        lab.restart_broker()
        lab.start_worker()
        lab.wait_settled(run_id, 120)
        _complete_once(lab, run_id, correct=24)
    finally:
        lab.close()


def test_a_server_outage_within_the_budget_fails_nothing(lab: FaultLab) -> None:
    lab.start_worker()
    back_at = time.time() + 8
    dataset = write_dataset(lab.root / "d.jsonl", [f"main=C,B down-until={back_at}"] * 8)
    run_id = lab.submit(dataset)
    waited = lab.wait_settled(run_id, 120)
    assert waited >= 5, "the outage was waited out"
    # Wrong first, then right after the guideline: the outage changed no model result.
    _complete_once(lab, run_id, correct=8, failed=0)


def test_a_spent_budget_fails_retryably_and_retry_failed_finishes(lab: FaultLab) -> None:
    lab.start_worker(SALAM_RETRY_BUDGET="2")
    back_at = time.time() + 15
    dataset = write_dataset(lab.root / "d.jsonl", [f"main=B down-until={back_at}"] * 4)
    waited = lab.salam("submit", str(dataset), "--wait", "--timeout", "60")
    assert waited.returncode == 1, "every question failed: not a result"
    assert "4 of 4 questions failed; first error: still failing after 2 s" in waited.stderr
    assert "--retry-failed" in waited.stderr

    time.sleep(max(0.0, back_at - time.time()))
    retried = lab.salam("submit", "--resume", "1", "--retry-failed", "--wait", "--timeout", "60")
    assert retried.returncode == 0, retried.stderr
    _complete_once(lab, 1, correct=4, failed=0)


def test_a_chunk_whose_process_dies_each_time_is_failed_with_the_reason(lab: FaultLab) -> None:
    dataset = write_dataset(lab.root / "d.jsonl", ["main=crash", "main=B", "main=B"])
    lab.start_worker("llm", SALAM_MAX_REDELIVERIES="2")
    run_id = lab.submit(dataset, SALAM_CHUNK_SIZE="1")
    lab.wait_settled(run_id, 120)
    _complete_once(lab, run_id, correct=2, failed=1)
    status = lab.salam("status", str(run_id))
    assert "first error: delivered 3 times: its worker died" in status.stdout


def test_a_chunk_held_by_a_worker_that_died_is_handed_back(lab: FaultLab) -> None:
    dataset = write_dataset(lab.root / "d.jsonl", ["main=B"] * 4)
    doomed = lab.start_worker("llm", SALAM_DUMMY_DELAY="30")
    run_id = lab.submit(dataset)
    deadline = time.monotonic() + 30
    while not lab.redis_client().hlen("unacked"):
        assert time.monotonic() < deadline, "the worker never took the chunk"
        time.sleep(0.2)
    lab.kill_worker(doomed)
    lab.start_worker("llm")
    # Redis would hand the chunk back after the visibility timeout (2 hours); the watchdog
    # sees that no live worker holds it.
    lab.wait_settled(run_id, 120, tick=lab.watchdog)
    _complete_once(lab, run_id, correct=4)


def test_a_database_outage_within_the_budget_fails_nothing(
    tmp_path: Path, postgres_url: str
) -> None:
    url = make_url(postgres_url)
    with proxied(url.host or "127.0.0.1", url.port or 5432) as proxy:
        through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        lab = FaultLab(tmp_path, through)
        try:
            dataset = write_dataset(tmp_path / "d.jsonl", ["main=C,B"] * 16)
            lab.start_worker(SALAM_DUMMY_DELAY="0.3")
            run_id = lab.submit(dataset, SALAM_CHUNK_SIZE="2")
            time.sleep(2)
            assert lab.outcome(run_id).pending > 0, "the outage must fall mid-run"
            proxy.cut()
            time.sleep(15)
            proxy.restore()
            lab.wait_settled(run_id, 180)
            _complete_once(lab, run_id, correct=16, failed=0)
        finally:
            lab.close()
