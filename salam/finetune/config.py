"""Every hyperparameter of a fine-tuning job, read once from the settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from salam.errors import ConfigError
from salam.settings import LrSchedule, Settings

DtypeChoice = Literal["auto", "float32", "bfloat16", "float16"]


@dataclass(frozen=True)
class FinetuneConfig:
    """LoRA supervised fine-tuning of the study assistant.

    The paper fine-tunes all of LLaMA-7B at lr 1e-5 with a cosine schedule; a LoRA adapter
    trains far fewer weights and needs a larger rate (2e-4 is the usual LoRA default).
    `max_steps` > 0 overrides `epochs`. `target_modules` is "all-linear" (every linear layer
    but the output head, whatever the architecture) or a comma-separated list of module names.
    `activation_checkpointing` recomputes each layer's activations in the backward pass
    instead of keeping them: less memory for about a third more compute.
    `eval_generations` caps the held-out examples whose output is generated before and after
    training (0: skip generation); sampling at the study assistant's settings is the slowest
    part of the held-out check.
    """

    lora_rank: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: str = "all-linear"
    learning_rate: float = 2e-4
    lr_schedule: LrSchedule = "cosine"
    warmup_ratio: float = 0.03
    epochs: float = 3.0
    max_steps: int = 0
    batch_size: int = 4
    grad_accumulation: int = 4
    max_length: int = 1024
    activation_checkpointing: bool = False
    held_out_fraction: float = 0.1
    eval_generations: int = 8
    seed: int = 0
    dtype: DtypeChoice = "auto"
    device: str = "auto"

    def __post_init__(self) -> None:
        problems = [
            f"{name} must be {rule}"
            for name, ok, rule in (
                ("lora_rank", self.lora_rank >= 1, "at least 1"),
                ("lora_dropout", 0.0 <= self.lora_dropout < 1.0, "in [0, 1)"),
                ("learning_rate", self.learning_rate > 0, "positive"),
                ("warmup_ratio", 0.0 <= self.warmup_ratio < 1.0, "in [0, 1)"),
                ("epochs", self.epochs > 0 or self.max_steps > 0, "positive without max_steps"),
                ("batch_size", self.batch_size >= 1, "at least 1"),
                ("grad_accumulation", self.grad_accumulation >= 1, "at least 1"),
                ("max_length", self.max_length >= 2, "at least 2"),
                ("held_out_fraction", 0.0 <= self.held_out_fraction < 1.0, "in [0, 1)"),
                ("eval_generations", self.eval_generations >= 0, "0 or more"),
                ("target_modules", bool(self.module_names), "'all-linear' or module names"),
            )
            if not ok
        ]
        if problems:
            raise ConfigError("fine-tuning settings: " + "; ".join(problems))

    @property
    def module_names(self) -> str | list[str]:
        """What peft's `target_modules` takes: the "all-linear" shorthand or a list of names."""
        if self.target_modules.strip() == "all-linear":
            return "all-linear"
        return [name.strip() for name in self.target_modules.split(",") if name.strip()]

    @classmethod
    def from_settings(cls, settings: Settings) -> FinetuneConfig:
        return cls(
            lora_rank=settings.finetune_lora_rank,
            lora_alpha=settings.finetune_lora_alpha,
            lora_dropout=settings.finetune_lora_dropout,
            target_modules=settings.finetune_target_modules,
            learning_rate=settings.finetune_learning_rate,
            lr_schedule=settings.finetune_lr_schedule,
            warmup_ratio=settings.finetune_warmup_ratio,
            epochs=settings.finetune_epochs,
            max_steps=settings.finetune_max_steps,
            batch_size=settings.finetune_batch_size,
            grad_accumulation=settings.finetune_grad_accumulation,
            max_length=settings.finetune_max_length,
            activation_checkpointing=settings.finetune_activation_checkpointing,
            held_out_fraction=settings.finetune_held_out_fraction,
            eval_generations=settings.finetune_eval_generations,
            seed=settings.seed,
            dtype=settings.finetune_dtype,
            device=settings.device,
        )
