"""transformers' `Trainer` set up for one fine-tuning job: masked labels, the chosen dtype,
no checkpoints, a log line per optimizer step."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from salam.finetune.config import FinetuneConfig
from salam.finetune.encoding import EncodedExample, pad_batch
from salam.llm.local_model import LoadedModel

if TYPE_CHECKING:
    from salam.finetune.progress import ProgressCallback


def build_trainer(
    loaded: LoadedModel,
    train: Sequence[EncodedExample],
    held_out: Sequence[EncodedExample],
    config: FinetuneConfig,
    *,
    dtype: torch.dtype,
    output_dir: Path,
    log_path: Path,
    progress: ProgressCallback | None,
) -> Any:
    """A `Trainer` over `loaded.model` (already wrapped with its LoRA adapter)."""
    # imported here: transformers' trainer takes seconds to import, and the Celery workers
    # that import this package but never fine-tune should not pay for it
    from transformers import PrinterCallback, Trainer

    from salam.finetune.progress import ProgressLog

    trainer = Trainer(
        model=loaded.model,
        args=training_arguments(config, dtype=dtype, device=loaded.device, output_dir=output_dir),
        train_dataset=[example.as_features() for example in train],
        eval_dataset=[example.as_features() for example in held_out] or None,
        data_collator=partial(pad_batch, pad_id=loaded.pad_id),
        callbacks=[ProgressLog(log_path, progress)],
    )
    # the log file and the progress callback say it all; no dicts printed to a worker's stdout
    trainer.remove_callback(PrinterCallback)
    return trainer


def training_arguments(
    config: FinetuneConfig, *, dtype: torch.dtype, device: torch.device, output_dir: Path
) -> Any:
    from transformers import TrainingArguments

    return TrainingArguments(
        output_dir=str(output_dir),
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accumulation,
        learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_schedule,
        # a float below 1 is a share of the total steps
        warmup_steps=config.warmup_ratio if config.warmup_ratio > 0 else 0,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps or -1,
        # explicit both ways: TRL's SFTConfig defaults to bf16, which fails on AVX2-only CPUs
        bf16=dtype == torch.bfloat16,
        fp16=dtype == torch.float16,
        use_cpu=device.type == "cpu",
        seed=config.seed,
        activation_checkpointing=config.activation_checkpointing,
        logging_steps=1,
        save_strategy="no",
        eval_strategy="no",
        report_to="none",
        disable_tqdm=True,
        # the held-out check needs the loss only; keeping logits would hold batch x length x
        # vocabulary floats
        prediction_loss_only=True,
        include_num_input_tokens_seen="non_padding",
        dataloader_pin_memory=False,
        remove_unused_columns=False,
    )
