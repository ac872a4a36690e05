"""The dtype a fine-tuning job trains in: the local backend's hardware choice unless set."""

from __future__ import annotations

import torch

from salam.errors import ConfigError
from salam.llm.local_hardware import DtypeChoice, choose_dtype


def training_dtype(requested: str, device: torch.device) -> DtypeChoice:
    """`auto`: bf16 where the hardware computes in it (a GPU with bf16, a CPU with AMX or
    AVX512-BF16), else fp16 on a GPU and fp32 on a CPU; see `local_hardware`.

    The choice is always explicit: TRL's `SFTConfig` defaults to bf16, which fails on CPUs
    without it. float16 is refused on a CPU, where torch has no fast fp16 training path.
    """
    if requested == "float16" and device.type != "cuda":
        raise ConfigError("float16 training needs a CUDA GPU; use float32 or bfloat16")
    return choose_dtype(requested, device, setting="SALAM_FINETUNE_DTYPE")
