"""What the job system costs: the same questions answered in process (as `salam eval` does,
`answer_questions` over chunks) and through `salam submit` + worker processes, with the same
backend. Prints both throughputs and their ratio (queued / in process).

    python benchmarks/overhead.py                         # bundled local model, 256 questions
    python benchmarks/overhead.py --backend dummy --questions 5000

Both sides load their model before the clock starts. The workers split the CPU cores
between them (OMP_NUM_THREADS), as the in-process run uses all of them alone.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

from models import RUN_FINISHED, get_run, session_scope, use_database
from producers.submit import Submission, submit_questions
from salam.data import generate_benchmark
from salam.llm import generation_params, make_llm
from salam.pipeline import answer_questions
from salam.records import QuestionRecord
from salam.settings import Settings
from workers.app import use_broker
from workers.private_redis import PrivateRedis
from workers.processes import start_process, stop_process, worker_command


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("local", "dummy"), default="local")
    parser.add_argument("--questions", type=int, default=256)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk-size", type=int, default=32)
    parser.add_argument("--broker", help="Redis URL (default: a private redis-server)")
    args = parser.parse_args()

    questions = generate_benchmark(per_task=-(-(args.questions + 8) // 4), seed=1)
    warmup, timed = questions[: 2 * args.workers], questions[2 * args.workers :][: args.questions]
    settings = Settings(main_backend=args.backend, sa_backend=args.backend)
    in_process = _in_process(timed, settings, args.chunk_size)
    print(
        f"in process: {in_process:,.1f} questions/s ({len(timed)} questions, "
        f"{args.backend} backend, chunks of {args.chunk_size})"
    )
    with tempfile.TemporaryDirectory(prefix="salam-overhead-") as folder, ExitStack() as stack:
        broker = args.broker or stack.enter_context(PrivateRedis(Path(folder) / "redis")).url
        queued = _queued(warmup, timed, args, broker, Path(folder))
    print(f"queued:     {queued:,.1f} questions/s (submit + {args.workers} worker processes)")
    print(f"ratio queued / in process: {queued / in_process:.2f}")


def _in_process(questions: Sequence[QuestionRecord], settings: Settings, chunk: int) -> float:
    llm = make_llm("main", settings)
    params = generation_params("main", settings)
    answer_questions(questions[:2], llm, params)  # loads the model
    started = time.perf_counter()
    for start in range(0, len(questions), chunk):
        answer_questions(questions[start : start + chunk], llm, params)
    return len(questions) / (time.perf_counter() - started)


def _queued(
    warmup: Sequence[QuestionRecord],
    timed: Sequence[QuestionRecord],
    args: argparse.Namespace,
    broker: str,
    folder: Path,
) -> float:
    url = f"sqlite:///{folder / 'overhead.db'}"
    use_database(url)
    use_broker(broker)
    threads = max(1, (os.cpu_count() or 1) // args.workers)
    env = {
        "SALAM_BROKER_URL": broker,
        "SALAM_DATABASE_URL": url,
        "SALAM_MAIN_BACKEND": args.backend,
        "SALAM_SA_BACKEND": args.backend,
        "OMP_NUM_THREADS": str(threads),
        "HF_HUB_OFFLINE": "1",
    }
    processes = [
        start_process(worker_command(["llm"], name=f"overhead{n}", loglevel="WARNING"), env=env,
                      log_path=folder / f"worker{n}.log")
        for n in range(args.workers)
    ]  # fmt: skip
    try:
        # One small chunk per worker, so each loads its model before the clock starts.
        _submit_and_wait(warmup, chunk_size=2)
        started = time.perf_counter()
        _submit_and_wait(timed, chunk_size=args.chunk_size)
        return len(timed) / (time.perf_counter() - started)
    finally:
        for process in processes:
            stop_process(process)


def _submit_and_wait(questions: Sequence[QuestionRecord], *, chunk_size: int) -> None:
    submission = Submission("generated", mode="exam", chunk_size=chunk_size)
    run_id = submit_questions(submission, questions, Settings())
    while True:
        with session_scope() as session:
            run = get_run(session=session, run_id=run_id)
        if run is not None and run.status == RUN_FINISHED:
            return
        time.sleep(0.05)


if __name__ == "__main__":
    sys.exit(main())
