"""What a person watches while work runs: tqdm bars for `salam eval`, one status line per
poll for queued runs."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from producers.progress import RunProgress

Advance = Callable[[int], None]


def tqdm_progress(quiet: bool) -> Callable[[str, int], Advance]:
    """A progress callback for `salam.evaluation`: one bar per phase."""
    from tqdm import tqdm

    def start(label: str, total: int) -> Advance:
        bar = tqdm(total=total, desc=label, unit="q", disable=quiet or total == 0, leave=False)

        def advance(done: int) -> None:
            bar.update(done)
            if bar.n >= total:
                bar.close()

        return advance

    return start


def follow_runs(
    run_ids: Sequence[int],
    *,
    quiet: bool,
    check: Callable[[], None] | None = None,
    timeout_s: float | None = None,
) -> None:
    """Show the runs' progress until every one is finished (or `timeout_s` passes)."""
    from producers.progress import wait_for_runs

    with ProgressDisplay(quiet=quiet) as display:
        wait_for_runs(
            run_ids, show=display.show, check=check or (lambda: None), timeout_s=timeout_s
        )


def report_failures(run_ids: list[int]) -> int:
    """Print a note per run with failed questions on stderr; 1 when a run failed entirely."""
    from producers.results import failure_notes

    notes = failure_notes(run_ids)
    for note in notes:
        print(f"salam: {note.describe()}", file=sys.stderr)
    return 1 if any(note.all_failed for note in notes) else 0


class ProgressDisplay:
    """One line per poll: each run's counts from the database, each queue's length from
    Redis. Rewritten in place on a terminal; on a pipe, printed when it changes (at most
    every `PIPE_INTERVAL_S`)."""

    PIPE_INTERVAL_S = 10.0

    def __init__(self, *, quiet: bool = False, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.tty = self.stream.isatty()
        self._last = ""
        self._printed_at = 0.0

    def show(self, progress: Sequence[RunProgress]) -> None:
        if self.quiet:
            return
        runs = "; ".join(_describe_progress(run) for run in progress)
        line = f"{runs} | queues: {describe_queues()}"
        done = all(run.done for run in progress)
        if self.tty:
            self.stream.write("\r" + line[:200].ljust(len(self._last[:200])))
            self.stream.flush()
        elif line != self._last and (
            done or time.monotonic() - self._printed_at >= self.PIPE_INTERVAL_S
        ):
            print(line, file=self.stream, flush=True)
            self._printed_at = time.monotonic()
        self._last = line

    def __enter__(self) -> ProgressDisplay:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.tty and not self.quiet and self._last:
            self.stream.write("\n")
            self.stream.flush()


def _describe_progress(run: RunProgress) -> str:
    what = "gather" if run.mode == "gather" else run.strategy
    return (
        f"run {run.run_id} {what} {run.finished}/{run.total} "
        f"(correct {run.correct}, wrong {run.wrong}, failed {run.failed})"
    )


def describe_queues() -> str:
    """'llm 3, assistant 0, finetune 0', or why the broker could not be asked."""
    import redis

    from workers.app import app
    from workers.queues import queue_lengths

    try:
        client = redis.Redis.from_url(app.conf.broker_url, socket_timeout=5)
        lengths = queue_lengths(client)
        client.close()
    except redis.RedisError as err:
        return f"broker unreachable ({err})"
    return ", ".join(f"{name} {count}" for name, count in lengths.items())
