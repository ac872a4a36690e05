"""The Celery tasks. Each takes ids, runs one step of `workers.answering` or
`workers.analyzing` (which read rows, call `salam.pipeline` and write results), then
publishes the follow-ups once those writes are committed; `workers.chunk_runs` says how a
chunk is retried and given up on."""

from __future__ import annotations

from celery import Task

from salam.settings import get_settings
from workers.analyzing import analyze_chunk, predict_chunk
from workers.answering import answer_chunk
from workers.app import app
from workers.chunk_runs import broker_client, run_chunk
from workers.inflight import live_task_ids
from workers.queues import ANALYZE_TASK, ANSWER_TASK, PREDICT_TASK, WATCHDOG_TASK
from workers.recovery import watch_runs


class ChunkTask(Task):
    """A chunk of questions: retried, failed and given up on as `workers.chunk_runs` says."""

    # Retries are decided by `run_chunk` against a time budget, not counted here.
    max_retries = None


@app.task(base=ChunkTask, bind=True, name=ANSWER_TASK)
def answer(self: Task, run_id: int, question_ids: list[int], iteration: int) -> None:
    run_chunk(self, answer_chunk, (run_id, question_ids, iteration))


@app.task(base=ChunkTask, bind=True, name=ANALYZE_TASK)
def analyze(self: Task, run_id: int, attempt_ids: list[int]) -> None:
    run_chunk(self, analyze_chunk, (run_id, attempt_ids))


@app.task(base=ChunkTask, bind=True, name=PREDICT_TASK)
def predict(self: Task, run_id: int, question_ids: list[int]) -> None:
    run_chunk(self, predict_chunk, (run_id, question_ids))


@app.task(name=WATCHDOG_TASK)
def watchdog() -> list[int]:
    """Hand back chunks of dead workers, resume stuck runs; returns the runs resumed."""
    stuck = watch_runs(broker_client(), live_task_ids(app), get_settings())
    return [run.run_id for run in stuck]
