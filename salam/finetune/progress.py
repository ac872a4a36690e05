"""Training progress: every log line of the trainer to a JSONL file and, for the loss lines,
to the caller (the Celery task reports them as its state)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

ProgressCallback = Callable[[dict[str, float]], None]


class ProgressLog(TrainerCallback):
    """Appends `{"step": ..., **logs}` per log event to `path`; calls `progress` with
    `{"step", "total_steps", "loss", "epoch"}` whenever a training loss is logged. An exception
    from `progress` stops the training (how a cancelled job stops)."""

    def __init__(self, path: Path, progress: ProgressCallback | None = None) -> None:
        self.path = path
        self.progress = progress

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **_: Any
    ) -> None:
        logs = logs or {}
        # appended as it happens, so the log of a job killed mid-run still says how far it got
        with self.path.open("a", encoding="utf-8") as file:
            file.write(json.dumps({"step": state.global_step, **logs}) + "\n")
        if self.progress is not None and "loss" in logs:
            self.progress(
                {
                    "step": state.global_step,
                    "total_steps": state.max_steps,
                    "loss": float(logs["loss"]),
                    "epoch": float(logs.get("epoch", state.epoch or 0.0)),
                }
            )
