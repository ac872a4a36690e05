"""The one call from the job system into the fine-tuning code (`salam.finetune`), and the
rows-to-records edge it needs."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from models import TrainingExample
from salam.records import QuestionRecord
from salam.settings import get_settings

if TYPE_CHECKING:
    from salam.finetune.examples import TrainingExample as TrainingRecord

# What the trainer reports while it runs: {"step", "loss", "epoch"}.
ProgressCallback = Callable[[dict[str, float]], None]


@dataclass(frozen=True)
class TrainingOutcome:
    adapter_dir: Path
    metrics: dict[str, Any] = field(default_factory=dict)
    trained_tokens: int = 0
    log_path: Path | None = None


def train_adapter(
    base_model: str,
    examples: Sequence[TrainingExample],
    output_dir: Path,
    progress: ProgressCallback,
) -> TrainingOutcome:
    """A LoRA adapter of the study assistant's base model trained on `examples`, written
    under `output_dir`."""
    # Resolved first, so a bad base model fails before the training libraries load.
    base_folder = base_model_folder(base_model)

    from salam.finetune import run_finetune
    from salam.finetune.config import FinetuneConfig

    settings = get_settings()
    result = run_finetune(
        base_folder,
        [training_record(example) for example in examples],
        FinetuneConfig.from_settings(settings),
        output_dir,
        progress=progress,
    )
    return TrainingOutcome(
        adapter_dir=Path(result.adapter_dir),
        metrics=dict(result.metrics),
        trained_tokens=int(result.trained_tokens),
        log_path=Path(result.log_path) if result.log_path else None,
    )


def base_model_folder(base_model: str) -> Path:
    """The base model as a folder the trainer can load: a GGUF file (the bundled SmolLM2 when
    `base_model` is '') converted once into the model cache, in float32 (the exact values of
    the dequantized weights; the trainer picks its own dtype when it loads them)."""
    import torch

    from salam.llm.model_cache import plain_model_folder
    from salam.llm.model_files import locate_model

    return plain_model_folder(locate_model(base_model), torch.float32)


def training_record(example: TrainingExample) -> TrainingRecord:
    from salam.finetune.examples import TrainingExample as TrainingRecord

    return TrainingRecord(
        prompt=example.prompt,
        completion=example.completion,
        question=question_of(example),
    )


def question_of(example: TrainingExample) -> QuestionRecord | None:
    """The question the example is about, when known. Its id is taken from the question's
    text, so examples about one question (gathered or imported) share it."""
    if example.question is None or example.target is None:
        return None
    digest = hashlib.sha256(example.question.encode("utf-8")).hexdigest()[:16]
    return QuestionRecord(
        id=f"training/{digest}",
        benchmark="training",
        task="",
        index=0,
        prompt=example.question,
        target=example.target,
        options=tuple(example.options or ()),
    )
