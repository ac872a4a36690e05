"""Worker processes started by a command (`salam run`, tests) and stopped with it.

Each child gets its own process group, so Ctrl-C in the terminal reaches only the command,
which then stops the children: SIGTERM to the group (Celery's warm shutdown), then SIGKILL.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

POOLS = ("prefork", "solo", "threads")


def worker_command(
    queues: Sequence[str],
    *,
    concurrency: int = 1,
    pool: str = "prefork",
    name: str | None = None,
    loglevel: str = "INFO",
    extra: Sequence[str] = (),
) -> list[str]:
    """`celery -A workers.app worker` for these queues, run by this interpreter."""
    node = name or "-".join(queues)
    return [
        sys.executable, "-m", "celery", "-A", "workers.app", "worker",
        "--queues", ",".join(queues),
        "--concurrency", str(concurrency),
        "--pool", pool,
        "--hostname", f"{node}@%h",
        "--loglevel", loglevel,
        *extra,
    ]  # fmt: skip


def beat_command(schedule: Path, *, loglevel: str = "INFO") -> list[str]:
    """`celery -A workers.app beat`, keeping its schedule state in `schedule`. Run one."""
    return [
        sys.executable, "-m", "celery", "-A", "workers.app", "beat",
        "--schedule", str(schedule),
        "--loglevel", loglevel,
    ]  # fmt: skip


def thread_share_env(processes: int) -> dict[str, str]:
    """OMP_NUM_THREADS for one of `processes` model processes sharing this machine's cores,
    unless the environment already sets it. Two PyTorch processes that each spin a thread per
    core slow each other down several times over on a small machine."""
    if "OMP_NUM_THREADS" in os.environ:
        return {}
    return {"OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // processes))}


def start_process(
    command: Sequence[str], *, env: Mapping[str, str], log_path: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start `command` in a new process group with `env` added to this environment."""
    log: IO[bytes] | int = subprocess.DEVNULL
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log = log_path.open("ab")
    try:
        return subprocess.Popen(
            list(command),
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        if not isinstance(log, int):
            log.close()


def stop_process(process: subprocess.Popen[bytes], *, grace_s: float = 20.0) -> None:
    """SIGTERM the process group, wait up to `grace_s`, then SIGKILL it."""
    if process.poll() is None:
        _signal_group(process, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace_s)
    # The group may outlive its leader (a pool child): make sure nothing is left.
    _signal_group(process, signal.SIGKILL)
    process.wait()


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)
