"""The base model of a fine-tuning job: a plain transformers folder, checked and loaded.

Trainer refuses a model loaded from GGUF ("quantized with GGUF ... do not support training"),
so a GGUF model is first converted to a plain folder once (config + safetensors + tokenizer).
"""

from __future__ import annotations

from pathlib import Path

import torch

from salam.errors import FinetuneError
from salam.llm.local_model import LoadedModel, load_files
from salam.llm.model_files import ModelFiles


def load_base_model(folder: Path, device: torch.device, dtype: torch.dtype) -> LoadedModel:
    """The model and tokenizer in `folder`, on `device` in `dtype`, loaded as the local backend
    loads them (the same end-of-sequence and padding tokens), with fresh weights that no other
    holder of this model shares (training changes them)."""
    check_base_folder(folder)
    try:
        loaded = load_files(ModelFiles(folder), device, dtype, model_id=folder.name)
    except (OSError, ValueError, RuntimeError, KeyError) as err:
        raise FinetuneError(f"base model {folder}: cannot be loaded for training: {err}") from err
    if not loaded.eos_ids:
        raise FinetuneError(f"base model {folder}: no end-of-sequence token to end outputs with")
    return loaded


def check_base_folder(folder: Path) -> None:
    """A `FinetuneError` unless `folder` holds a causal language model's config."""
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    if not folder.exists():
        raise FinetuneError(f"base model {folder}: no such folder")
    gguf = folder.suffix == ".gguf" if folder.is_file() else any(folder.glob("*.gguf"))
    if not (folder / "config.json").is_file():
        problem = "not a model folder (no config.json in it)"
        if gguf:
            problem = (
                "GGUF weights cannot be trained; convert the model to a plain transformers "
                "folder (config.json + safetensors) first"
            )
        raise FinetuneError(f"base model {folder}: {problem}")
    try:
        config = AutoConfig.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError, KeyError) as err:
        raise FinetuneError(f"base model {folder}: unreadable config.json: {err}") from err
    if config.model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        raise FinetuneError(
            f"base model {folder}: a {config.model_type!r} model is not a causal language model"
        )
