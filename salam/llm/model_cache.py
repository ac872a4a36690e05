"""GGUF models converted once into plain safetensors folders, kept in `SALAM_CACHE_DIR`.

transformers dequantizes a GGUF file on every load (about 25 s for the bundled SmolLM2 on two
cores, its tokenizer included), and Trainer refuses a model loaded from GGUF. Converted once,
the model loads from `<cache>/plain/<file stem>-<sha256 prefix>-<dtype>/` in about a second,
and the imitation-learning fine-tune starts from the same folder. The file's hash is taken
once per version of the file and remembered in `<cache>/hashes/`.

Processes that start together must neither convert twice nor read a half-written folder: the
folder is built in a temporary folder next to it, under a file lock, and renamed into place
(one atomic step on one filesystem).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import torch
from filelock import FileLock

from salam.llm.model_files import ModelFiles
from salam.settings import get_settings

logger = logging.getLogger(__name__)

_PARTIAL = ".partial-"


def plain_model_folder(
    files: ModelFiles, dtype: torch.dtype, cache_dir: Path | None = None
) -> Path:
    """A transformers folder with the weights of `files` in `dtype`, safe to fine-tune.

    A model folder is its own answer; a GGUF file is converted on the first call on this
    machine. `cache_dir` defaults to the `SALAM_CACHE_DIR` setting.
    """
    if files.gguf_file is None:
        return files.folder
    cache = (cache_dir if cache_dir is not None else get_settings().cache_dir).expanduser()
    gguf = files.folder / files.gguf_file
    target = cache / "plain" / plain_folder_name(gguf, dtype, hashes=cache / "hashes")
    return build_once(target, partial(convert_gguf, files, dtype))


def plain_folder_name(gguf: Path, dtype: torch.dtype, hashes: Path) -> str:
    """Names differ when the file's content or the dtype does, whatever the file is called;
    the file's hash is remembered in `hashes` (see `remembered_sha256`)."""
    dtype_name = str(dtype).removeprefix("torch.")
    return f"{gguf.stem}-{remembered_sha256(gguf, hashes)[:16]}-{dtype_name}"


def remembered_sha256(path: Path, store: Path) -> str:
    """The SHA-256 of `path`, read once per version of the file.

    Remembered in `store` under the file's resolved path, with its size, modification time and
    inode: a worker that starts with a multi-GB GGUF does not read it whole again (about 2 s
    per GB here), and a file replaced or rewritten in place is hashed anew.
    """
    status = path.stat()
    where = str(path.resolve())
    stamp = [where, status.st_size, status.st_mtime_ns, status.st_ino]
    record = store / f"{hashlib.sha256(where.encode()).hexdigest()[:16]}.json"
    try:
        saved = json.loads(record.read_text(encoding="utf-8"))
        if saved["stamp"] == stamp:
            return str(saved["sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        pass  # not remembered yet, or a record this code cannot read: hash the file
    digest = file_sha256(path)
    try:
        store.mkdir(parents=True, exist_ok=True)
        staging = record.with_name(f".{record.name}.{os.getpid()}")
        staging.write_text(json.dumps({"stamp": stamp, "sha256": digest}), encoding="utf-8")
        staging.replace(record)  # atomic: a reader sees the old record or the new one
    except OSError as err:
        logger.debug("cannot remember the hash of %s: %s", path, err)
    return digest


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build_once(target: Path, build: Callable[[Path], None]) -> Path:
    """`target`, built by `build(folder)` unless it exists, then published whole.

    Another process building the same target holds the lock; this one waits for it and then
    finds the folder there.
    """
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{target}.lock"):
        if not target.is_dir():
            _remove_unfinished(target)
            _build_and_publish(target, build)
    return target


def _remove_unfinished(target: Path) -> None:
    # Only a process killed mid-build leaves these: every builder holds the lock.
    for leftover in target.parent.glob(f".{target.name}{_PARTIAL}*"):
        shutil.rmtree(leftover, ignore_errors=True)


def _build_and_publish(target: Path, build: Callable[[Path], None]) -> None:
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}{_PARTIAL}", dir=target.parent))
    try:
        logger.info("building %s (once on this machine)", target)
        build(staging)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def convert_gguf(files: ModelFiles, dtype: torch.dtype, out: Path) -> None:
    """Dequantize the GGUF model of `files` and save it, with its tokenizer, into `out`."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    assert files.gguf_file is not None, "a GGUF model to convert"
    source: dict[str, Any] = {"gguf_file": files.gguf_file, "local_files_only": True}
    config = AutoConfig.from_pretrained(files.folder, **source)
    tokenizer = AutoTokenizer.from_pretrained(files.folder, **source)
    dequantized = AutoModelForCausalLM.from_pretrained(files.folder, dtype=torch.float32, **source)
    save_plain_model(dequantized, config, tokenizer, dtype, out)


def save_plain_model(
    dequantized: Any, config: Any, tokenizer: Any, dtype: torch.dtype, out: Path
) -> None:
    """Save a GGUF-loaded model as a plain one.

    transformers refuses to save a model it loaded from GGUF; a model built from the same
    config takes its weights (all of them: the load is strict) and saves like any other.
    """
    from transformers import AutoModelForCausalLM

    plain = AutoModelForCausalLM.from_config(config, dtype=dtype)  # type: ignore[no-untyped-call]
    plain.load_state_dict(dequantized.state_dict())
    plain.generation_config = dequantized.generation_config
    plain.save_pretrained(out)
    tokenizer.save_pretrained(out)
