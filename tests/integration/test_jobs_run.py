"""`salam run`: a private Redis, SQLite and two workers started, used and stopped by one
command (dummy LLMs and the hash embedder here; the bundled model in the `model` test)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

SALAM = [sys.executable, "-c", "import sys; from salam.cli import main; sys.exit(main())"]


def _run_env(output: Path, **overrides: str) -> dict[str, str]:
    """No broker and no database configured: `salam run` brings its own."""
    return {
        **os.environ,
        "SALAM_BROKER_URL": "",
        "SALAM_DATABASE_URL": "",
        "SALAM_HOME": str(output / "home"),
        "SALAM_MAIN_BACKEND": "dummy",
        "SALAM_SA_BACKEND": "dummy",
        "SALAM_EMBEDDER": "hash",
        **overrides,
    }


def _processes_of(output: Path) -> list[int]:
    """Processes still running with this run's database in their environment."""
    marker = f"SALAM_DATABASE_URL=sqlite:///{(output / 'salam.db').resolve()}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environment = (entry / "environ").read_bytes()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker in environment.split(b"\0") or str(output).encode() in cmdline:
            found.append(int(entry.name))
    return found


def _salam_run(args: list[str], env: dict[str, str], timeout_s: float) -> tuple[int, str, str]:
    """`salam run ARGS`; past the timeout it gets Ctrl-C, so it still stops what it started."""
    process = subprocess.Popen(
        [*SALAM, "run", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
        raise AssertionError(f"salam run took over {timeout_s:.0f} s: {stderr[-3000:]}") from None
    return process.returncode, stdout, stderr


def test_salam_run_does_the_whole_job_and_cleans_up(tmp_path: Path) -> None:
    output = tmp_path / "out"
    code, stdout, stderr = _salam_run(
        ["--limit", "5", "--output", str(output)], _run_env(output), timeout_s=240
    )
    assert code == 0, stderr
    lines = stdout.splitlines()
    assert any(line.startswith("none ") for line in lines)
    assert any(line.startswith("feedback ") for line in lines)
    document = json.loads((output / "results.json").read_text())
    assert [row["label"] for row in document["strategies"]] == ["none", "feedback"]
    assert all(row["questions"] == 4 for row in document["strategies"])
    assert document["gather"][0]["questions"] == 16
    assert (output / "accuracy.png").stat().st_size > 0
    assert (output / "salam.db").exists()
    assert _processes_of(output) == []


def test_ctrl_c_stops_everything_it_started(
    tmp_path: Path, wait_until: Callable[..., None]
) -> None:
    output = tmp_path / "out"
    process = subprocess.Popen(
        [*SALAM, "run", "--limit", "20", "--output", str(output)],
        env=_run_env(output, SALAM_DUMMY_DELAY="2"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    logs = [output / "logs" / f"{queue}.log" for queue in ("llm", "assistant", "finetune")]

    def workers_ready() -> bool:
        return all(" ready." in log.read_text(errors="replace") for log in logs)

    try:
        wait_until(workers_ready, 120, "the three workers ready", process)
        # Redis, three workers (and their pool processes) and beat
        assert len(_processes_of(output)) >= 5
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=90)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr
    assert _processes_of(output) == []


@pytest.mark.model
def test_salam_run_with_the_bundled_model(tmp_path: Path) -> None:
    output = tmp_path / "out"
    environment = _run_env(output)
    for name in ("SALAM_MAIN_BACKEND", "SALAM_SA_BACKEND", "SALAM_EMBEDDER"):
        environment.pop(name)
    code, _, stderr = _salam_run(
        ["--tasks", "arithmetic,ordering", "--limit", "3", "--output", str(output)],
        environment,
        timeout_s=480,
    )
    assert code == 0, stderr[-3000:]
    document = json.loads((output / "results.json").read_text())
    assert [row["questions"] for row in document["strategies"]] == [2, 2]
    assert document["gather"][0]["questions"] == 4
    assert _processes_of(output) == []
