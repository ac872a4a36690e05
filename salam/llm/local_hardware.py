"""Where the local model runs and in which number format, and why.

bf16 halves the bytes a forward pass moves, and on CPUs with bf16 instructions (AVX512-BF16,
AMX) its matmuls run about three times as fast as fp32 (720 against 258 GFLOP/s measured on
two cores of an AMX machine). Without those instructions torch emulates bf16 and a forward
pass is many times slower than fp32 (1.2 against 130 GFLOP/s on two cores of an AVX2-only
EPYC, `benchmarks/local_throughput.py`). So `auto` follows the hardware, decided on the machine
that loads the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from salam.errors import ConfigError

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass(frozen=True)
class DtypeChoice:
    dtype: torch.dtype
    reason: str

    @property
    def name(self) -> str:
        return str(self.dtype).removeprefix("torch.")

    def __str__(self) -> str:
        return f"{self.name} ({self.reason})"


def resolve_device(device: str) -> torch.device:
    """`auto`: CUDA when there is a GPU, else Apple's MPS, else the CPU."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as err:
        raise ConfigError(f"unknown device {device!r}: use auto, cpu, cuda, cuda:N or mps") from err
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} asked for, but torch sees no CUDA GPU")
    return resolved


def choose_dtype(requested: str, device: torch.device, setting: str = "SALAM_DTYPE") -> DtypeChoice:
    """The dtype for `requested` (auto, float32, bfloat16, float16) on `device`, with the reason;
    `setting` names where an explicit choice came from.

    auto: bf16 on a CPU with bf16 instructions and on a GPU that has bf16, fp16 on an older
    GPU, fp32 elsewhere (Apple's MPS included: its bf16 support varies by OS version).
    """
    if requested != "auto":
        if requested not in DTYPES:
            choices = ", ".join(DTYPES)
            raise ConfigError(f"{setting}: unknown dtype {requested!r}: use auto, {choices}")
        return DtypeChoice(DTYPES[requested], f"set by {setting}")
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return DtypeChoice(torch.bfloat16, "the GPU supports bf16")
        return DtypeChoice(torch.float16, "the GPU lacks bf16")
    if device.type == "cpu":
        feature = cpu_bf16_feature()
        if feature is not None:
            return DtypeChoice(torch.bfloat16, f"the CPU has {feature}")
        return DtypeChoice(
            torch.float32, "the CPU has neither AMX nor AVX512-BF16: bf16 would be emulated"
        )
    return DtypeChoice(torch.float32, f"the default on {device.type}")


def cpu_bf16_feature() -> str | None:
    """The bf16 instructions this CPU (and its OS) offers, named; None when it has none.

    torch's public `get_cpu_capability()` says "AVX512" for CPUs with and without bf16, so
    this asks the cpuinfo checks behind `torch.cpu`, which also confirm that the OS enables
    the registers. Where torch lacks them the answer is None and fp32 is used: it forgoes the
    bf16 speed-up, where emulated bf16 would cost far more.
    """
    found = [
        name
        for name, check in (
            ("AMX", "_is_amx_tile_supported"),
            ("AVX512-BF16", "_is_avx512_bf16_supported"),
        )
        if _torch_cpu_has(check)
    ]
    return " and ".join(found) or None


def _torch_cpu_has(check_name: str) -> bool:
    check = getattr(torch.cpu, check_name, None)
    return bool(check()) if callable(check) else False
