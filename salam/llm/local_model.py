"""A transformers model loaded once per process and shared by every LocalLLM that names it.

Loading is lazy: nothing is read before the first generation, so a Celery parent process
that forks workers never holds a model (and never touches CUDA) before the fork.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from salam.errors import BackendError, ConfigError
from salam.llm.model_files import ModelFiles

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass(eq=False)
class LoadedModel:
    """A model, its tokenizer and the per-process caches that depend on them.

    `lock` serialises inference: one forward pass at a time makes full use of the device, and
    seeded sampling needs the random state to itself.
    """

    model: Any
    tokenizer: Any
    device: torch.device
    model_id: str
    pad_id: int
    eos_ids: frozenset[int]
    context_length: int | None
    lock: threading.Lock = field(default_factory=threading.Lock)
    # filled on first use by the modules that need them
    head_states: dict[tuple[int, ...], Any] = field(default_factory=dict)
    choice_plans: dict[tuple[str, ...], Any] = field(default_factory=dict)
    token_texts: list[str] | None = None


_LOADED: dict[tuple[ModelFiles, str, str], LoadedModel] = {}
_LOAD_LOCK = threading.Lock()


def load_model(files: ModelFiles, device: str, dtype: str) -> LoadedModel:
    """The model for (files, device, dtype), loaded on the first call in this process."""
    key = (files, device, dtype)
    with _LOAD_LOCK:
        loaded = _LOADED.get(key)
        if loaded is None:
            loaded = _load(files, resolve_device(device), dtype)
            _LOADED[key] = loaded
    return loaded


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


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """`auto`: bfloat16 on a GPU that has it, float32 elsewhere.

    float32 on the CPU because CPUs without bf16 instructions (AVX2 only) run a bf16 forward
    pass several times slower than float32 (measured 6x on SmolLM2-135M).
    """
    if dtype != "auto":
        if dtype not in DTYPES:
            raise ConfigError(f"unknown dtype {dtype!r}: use auto, {', '.join(DTYPES)}")
        return DTYPES[dtype]
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def _load(files: ModelFiles, device: torch.device, dtype: str) -> LoadedModel:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch_dtype = resolve_dtype(dtype, device)
    source = {"gguf_file": files.gguf_file} if files.gguf_file else {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(files.folder, local_files_only=True, **source)
        model: Any = AutoModelForCausalLM.from_pretrained(
            files.folder, local_files_only=True, dtype=torch_dtype, **source
        )
    except (OSError, ValueError, RuntimeError) as err:
        raise BackendError(files.model_id, f"cannot load the local model: {err}") from err
    model.to(device).eval()
    eos_ids = _eos_ids(model, tokenizer)
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        device=device,
        model_id=files.model_id,
        pad_id=_pad_id(tokenizer, eos_ids),
        eos_ids=eos_ids,
        context_length=getattr(model.config, "max_position_embeddings", None),
    )


def _eos_ids(model: Any, tokenizer: Any) -> frozenset[int]:
    configured = model.generation_config.eos_token_id
    if configured is None:
        configured = tokenizer.eos_token_id
    if configured is None:
        return frozenset()
    return frozenset([configured] if isinstance(configured, int) else configured)


def _pad_id(tokenizer: Any, eos_ids: frozenset[int]) -> int:
    # Models without a pad token pad with end-of-sequence: padded positions are masked out or,
    # with right padding, come after every real token and are never read.
    if tokenizer.pad_token_id is not None:
        return int(tokenizer.pad_token_id)
    return min(eos_ids) if eos_ids else 0


def remember(cache: dict[Any, Any], key: Any, value: Any, *, limit: int = 256) -> None:
    """Store in a per-process cache that cannot grow without bound (prompts vary freely)."""
    if len(cache) >= limit:
        cache.clear()
    cache[key] = value


def batches_by_length(
    lengths: Sequence[int], batch_size: int, max_tokens: int | None = None
) -> list[list[int]]:
    """Indices grouped into batches of similar length, so that little of a batch is padding.

    `max_tokens` also caps rows x longest row, for devices that slow down on large batches.
    """
    order = sorted(range(len(lengths)), key=lambda index: lengths[index])
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        # shortest first, so this row is the batch's longest if it joins
        full = len(current) == batch_size
        too_many_tokens = (
            max_tokens is not None and (len(current) + 1) * lengths[index] > max_tokens
        )
        if current and (full or too_many_tokens):
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches
