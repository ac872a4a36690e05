"""The LoRA adapter a fine-tuning job trains on top of the frozen base model."""

from __future__ import annotations

from typing import Any

from salam.errors import FinetuneError
from salam.finetune.config import FinetuneConfig


def attach_lora(model: Any, config: FinetuneConfig) -> Any:
    """`model` wrapped by peft with a fresh adapter; only the adapter's weights train.

    The adapter starts as the identity (LoRA's B is zero), so the wrapped model answers
    exactly as the base did: the "before" scores are the base model's.
    """
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(
        r=config.lora_rank,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=config.module_names,
        task_type="CAUSAL_LM",
    )
    try:
        # peft keeps the adapter in float32 over a bf16 base (autocast_adapter_dtype): small
        # updates at LoRA learning rates would round away in bf16
        return get_peft_model(model, lora)
    except ValueError as err:
        raise FinetuneError(
            f"LoRA target modules {config.target_modules!r} do not fit this model: {err}"
        ) from err
