"""One fine-tuning job: LoRA SFT of the study assistant on successful feedback, judged on a
held-out slice before and after, with its adapter, metrics and log written to one folder."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from salam.errors import FinetuneError
from salam.finetune.base_model import load_base_model
from salam.finetune.config import FinetuneConfig
from salam.finetune.encoding import EncodedExample, encode_fitting
from salam.finetune.examples import TrainingExample, split_held_out
from salam.finetune.held_out import HeldOutCheck
from salam.finetune.lora import attach_lora
from salam.finetune.precision import training_dtype
from salam.finetune.training import build_trainer
from salam.llm.base import GenerationParams
from salam.llm.local_hardware import DtypeChoice, resolve_device
from salam.llm.local_model import LoadedModel

logger = logging.getLogger(__name__)

ADAPTER_DIR = "adapter"
METRICS_FILE = "metrics.json"
LOG_FILE = "training_log.jsonl"


@dataclass
class FinetuneResult:
    """`trained_tokens`: prompt and completion tokens of every training step (padding not
    counted; an example seen in two epochs counts twice). `dtype`: what it trained in."""

    adapter_dir: Path
    metrics: dict[str, float | int]
    trained_tokens: int
    log_path: Path
    dtype: str


def run_finetune(
    base_model_dir: Path,
    examples: Sequence[TrainingExample],
    config: FinetuneConfig,
    output_dir: Path,
    *,
    progress: Callable[[dict[str, float]], None] | None = None,
    generation: GenerationParams | None = None,
) -> FinetuneResult:
    """Train a LoRA adapter for the model in `base_model_dir` (a plain transformers folder) on
    `examples`; a `FinetuneError` when that cannot be done.

    `generation`: the study assistant's decoding for the held-out outputs; None means the
    paper's (sampled at temperature 1.0, top-k 50, up to 512 new tokens) at `config.seed`.
    Running again into the same `output_dir` starts over and replaces what is there.
    """
    if not examples:
        raise FinetuneError("no training examples: a fine-tuning job needs at least one")
    job = _prepare(base_model_dir, examples, config)
    output_dir.mkdir(parents=True, exist_ok=True)
    log_path = output_dir / LOG_FILE
    log_path.write_text("", encoding="utf-8")
    trainer = build_trainer(
        job.loaded,
        job.train,
        job.held_out,
        config,
        dtype=job.dtype.dtype,
        output_dir=output_dir,
        log_path=log_path,
        progress=progress,
    )
    check = HeldOutCheck(
        job.loaded,
        trainer,
        job.held_out,
        max_generations=config.eval_generations,
        params=generation or _paper_sa_decoding(config.seed),
        batch_size=config.batch_size,
    )
    before = check.measure("before")
    outcome = trainer.train()
    after = check.measure("after")

    job.loaded.model.save_pretrained(output_dir / ADAPTER_DIR)
    metrics = {
        **job.counts(len(examples)),
        **_training_metrics(trainer, outcome),
        **before,
        **after,
    }
    _write_metrics(output_dir / METRICS_FILE, metrics, job.dtype.name, base_model_dir, config)
    return FinetuneResult(
        adapter_dir=output_dir / ADAPTER_DIR,
        metrics=metrics,
        trained_tokens=int(metrics["trained_tokens"]),
        log_path=log_path,
        dtype=job.dtype.name,
    )


@dataclass(frozen=True)
class _PreparedJob:
    """The base model with a fresh adapter, and the examples that fit, split."""

    loaded: LoadedModel
    dtype: DtypeChoice
    train: list[EncodedExample]
    held_out: list[EncodedExample]
    dropped_too_long: int

    def counts(self, given: int) -> dict[str, float | int]:
        return {
            "examples": given,
            "dropped_too_long": self.dropped_too_long,
            "train_examples": len(self.train),
            "held_out_examples": len(self.held_out),
        }


def _prepare(
    base_model_dir: Path, examples: Sequence[TrainingExample], config: FinetuneConfig
) -> _PreparedJob:
    device = resolve_device(config.device)
    choice = training_dtype(config.dtype, device)
    logger.info("fine-tuning %s on %s in %s", base_model_dir, device, choice)
    loaded = load_base_model(base_model_dir, device, choice.dtype)
    usable, dropped = encode_fitting(loaded, examples, config.max_length)
    groups = [item.example.group for item in usable]
    train, held_out = split_held_out(usable, groups, config.held_out_fraction, config.seed)
    torch.manual_seed(config.seed)  # the adapter's random initial weights
    loaded = dataclasses.replace(loaded, model=attach_lora(loaded.model, config))
    return _PreparedJob(loaded, choice, train, held_out, dropped)


def _paper_sa_decoding(seed: int) -> GenerationParams:
    return GenerationParams(max_new_tokens=512, temperature=1.0, top_k=50, seed=seed)


def _training_metrics(trainer: Any, outcome: Any) -> dict[str, float | int]:
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    return {
        "train_steps": int(outcome.global_step),
        "epochs": float(trainer.state.epoch or 0.0),
        "train_loss": float(outcome.training_loss),
        "train_loss_final": float(losses[-1]) if losses else float(outcome.training_loss),
        "trained_tokens": int(trainer.state.num_input_tokens_seen),
        "train_runtime_s": float(outcome.metrics["train_runtime"]),
    }


def _write_metrics(
    path: Path,
    metrics: dict[str, float | int],
    dtype: str,
    base_model_dir: Path,
    config: FinetuneConfig,
) -> None:
    document = {
        "metrics": metrics,
        "dtype": dtype,
        "base_model": str(base_model_dir),
        "config": dataclasses.asdict(config),
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
