"""A transformers model loaded once per process and shared by every LocalLLM that names it.

A GGUF model is loaded from its plain copy in the cache (see `model_cache`), in the dtype that
suits the hardware (see `local_hardware`). Loading is lazy: nothing is read before the first
generation, so a Celery parent process that forks workers never holds a model (and never
touches CUDA) before the fork.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from salam.errors import BackendError
from salam.llm.local_hardware import DTYPES as DTYPES  # read from here by salam.finetune
from salam.llm.local_hardware import choose_dtype, resolve_device
from salam.llm.model_cache import plain_model_folder
from salam.llm.model_files import ModelFiles

logger = logging.getLogger(__name__)


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
    grammar_tokenizer: Any = None


_LOADED: dict[tuple[ModelFiles, str, str, str | None], LoadedModel] = {}
_LOAD_LOCK = threading.Lock()


def load_model(
    files: ModelFiles, device: str, dtype: str, adapter: str | None = None
) -> LoadedModel:
    """The model for (files, device, dtype), with the LoRA adapter folder `adapter` merged in
    when given, loaded on the first call in this process. Loading another adapter of the same
    model releases the adapter loaded before (a process follows one study-assistant version at a
    time); the plain model, which a main LLM may share, stays."""
    key = (files, device, dtype, adapter)
    with _LOAD_LOCK:
        loaded = _LOADED.get(key)
        if loaded is None:
            stale = [k for k in _LOADED if k[:3] == key[:3] and k[3] not in (None, adapter)]
            for older in stale:
                del _LOADED[older]
            loaded = _load(files, resolve_device(device), dtype)
            if adapter is not None:
                loaded = with_adapter(loaded, adapter)
            _LOADED[key] = loaded
    return loaded


def with_adapter(loaded: LoadedModel, adapter: str) -> LoadedModel:
    """`loaded` with a peft LoRA adapter merged into its weights: as fast as the base model,
    and the base's shared caches (prefixes, grammars) start empty again."""
    from peft import PeftModel

    try:
        merged = PeftModel.from_pretrained(loaded.model, adapter).merge_and_unload()
    except (OSError, ValueError, RuntimeError) as err:
        raise BackendError(loaded.model_id, f"cannot apply the adapter {adapter}: {err}") from err
    merged.eval()
    return LoadedModel(
        model=merged,
        tokenizer=loaded.tokenizer,
        device=loaded.device,
        model_id=f"{loaded.model_id}@{adapter}",
        pad_id=loaded.pad_id,
        eos_ids=loaded.eos_ids,
        context_length=loaded.context_length,
    )


def _load(files: ModelFiles, device: torch.device, dtype: str) -> LoadedModel:
    choice = choose_dtype(dtype, device)
    logger.info("local model %s on %s in %s", files.model_id, device, choice)
    try:
        loadable = _loadable_files(files, choice.dtype)
        return load_files(loadable, device, choice.dtype, model_id=files.model_id)
    except (OSError, ValueError, RuntimeError) as err:
        raise BackendError(files.model_id, f"cannot load the local model: {err}") from err


def _loadable_files(files: ModelFiles, dtype: torch.dtype) -> ModelFiles:
    """The plain copy of a GGUF model, or the GGUF itself where the cache cannot be written
    (a read-only home in a container): slow, but the worker still runs."""
    try:
        plain = plain_model_folder(files, dtype)
    except OSError as err:
        logger.warning("%s; loading the GGUF file, slowly (set SALAM_CACHE_DIR)", err)
        return files
    return ModelFiles(plain) if plain != files.folder else files


def load_files(
    files: ModelFiles, device: torch.device, dtype: torch.dtype, *, model_id: str | None = None
) -> LoadedModel:
    """`files` loaded as they are: a GGUF file is dequantized (slow), a folder read."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source: dict[str, Any] = {"local_files_only": True}
    if files.gguf_file is not None:
        source["gguf_file"] = files.gguf_file
    tokenizer = AutoTokenizer.from_pretrained(files.folder, **source)
    model: Any = AutoModelForCausalLM.from_pretrained(files.folder, dtype=dtype, **source)
    model.to(device).eval()
    eos_ids = _eos_ids(model, tokenizer)
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        device=device,
        model_id=model_id or files.model_id,
        pad_id=_pad_id(tokenizer, eos_ids),
        eos_ids=eos_ids,
        context_length=getattr(model.config, "max_position_embeddings", None),
    )


def _eos_ids(model: Any, tokenizer: Any) -> frozenset[int]:
    # Both sources: generation stops at the config's, the tokenizer's closes chat turns (and
    # ends every fine-tuning completion).
    configured = model.generation_config.eos_token_id
    ids = [configured] if isinstance(configured, int) else list(configured or [])
    if tokenizer.eos_token_id is not None:
        ids.append(tokenizer.eos_token_id)
    return frozenset(int(token) for token in ids)


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
