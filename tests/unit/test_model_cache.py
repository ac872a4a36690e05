"""GGUF models converted once into a cache: keys, one build under concurrency, atomic
publication; and, with the bundled model, a converted folder that gives the GGUF's logits."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import pytest
import torch

from salam.errors import ConfigError
from salam.llm import local_model, model_cache
from salam.llm.local_hardware import choose_dtype
from salam.llm.model_cache import build_once, plain_folder_name, plain_model_folder
from salam.llm.model_files import ModelFiles, locate_model


def write_weights(folder: Path) -> None:
    """A fake conversion: a file written in two steps, so a reader could see it half done."""
    (folder / "weights").write_text("half")
    time.sleep(0.2)
    (folder / "weights").write_text("whole")


def record_build(folder: Path) -> None:
    """A fake conversion that leaves a line per build in the cache folder, for counting."""
    with (folder.parent.parent / "builds").open("a") as log:
        log.write(f"{os.getpid()}\n")
    write_weights(folder)


def build_in_process(target: str) -> str:
    return str(build_once(Path(target), record_build))


def test_names_follow_content_and_dtype(tmp_path: Path) -> None:
    first, same, other = tmp_path / "a.gguf", tmp_path / "b.gguf", tmp_path / "c.gguf"
    first.write_bytes(b"weights one")
    same.write_bytes(b"weights one")
    other.write_bytes(b"weights two")
    hashes = tmp_path / "hashes"
    name = plain_folder_name(first, torch.float32, hashes)
    assert name.startswith("a-") and name.endswith("-float32")
    assert name.split("-")[1] == plain_folder_name(same, torch.float32, hashes).split("-")[1]
    assert name.split("-")[1] != plain_folder_name(other, torch.float32, hashes).split("-")[1]
    assert plain_folder_name(first, torch.bfloat16, hashes) != name


def test_a_model_folder_is_its_own_plain_folder(tmp_path: Path) -> None:
    files = ModelFiles(tmp_path)
    assert plain_model_folder(files, torch.float32, cache_dir=tmp_path / "cache") == tmp_path
    assert not (tmp_path / "cache").exists()


def test_builds_once_and_publishes_whole(tmp_path: Path) -> None:
    target = tmp_path / "cache" / "plain" / "model"
    builds: list[Path] = []

    def build(folder: Path) -> None:
        assert not target.exists(), "nothing is published before the build ends"
        builds.append(folder)
        write_weights(folder)

    assert build_once(target, build) == target
    assert build_once(target, build) == target
    assert len(builds) == 1
    assert (target / "weights").read_text() == "whole"
    assert sorted(path.name for path in target.parent.iterdir()) == ["model", "model.lock"]


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork()")
def test_processes_starting_together_build_once(tmp_path: Path) -> None:
    target = tmp_path / "cache" / "plain" / "model"
    # fork: the children need no fresh imports (spawn would import torch three times)
    context = multiprocessing.get_context("fork")
    with context.Pool(3) as pool:
        results = pool.map(build_in_process, [str(target)] * 3)
    assert results == [str(target)] * 3
    assert len((tmp_path / "cache" / "builds").read_text().split()) == 1
    assert (target / "weights").read_text() == "whole"


def test_a_failed_build_leaves_nothing_and_the_next_one_starts_clean(tmp_path: Path) -> None:
    target = tmp_path / "plain" / "model"

    def fail(folder: Path) -> None:
        (folder / "weights").write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        build_once(target, fail)
    assert not target.exists()
    # what a process killed mid-build leaves behind
    (target.parent / ".model.partial-killed").mkdir()
    build_once(target, write_weights)
    assert sorted(path.name for path in target.parent.iterdir()) == ["model", "model.lock"]


# ---- with the bundled SmolLM2 ------------------------------------------------------------


@pytest.mark.model
def test_the_converted_folder_gives_the_gguf_models_logits() -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        files = locate_model(None)
    except ConfigError as err:
        pytest.skip(f"bundled model not installed: {err}")
    assert files.gguf_file is not None
    # The dtype the other model tests load, so that one conversion serves them all.
    dtype = choose_dtype("auto", torch.device("cpu")).dtype
    folder = plain_model_folder(files, dtype)
    gguf = {"gguf_file": files.gguf_file, "local_files_only": True}
    reference = AutoModelForCausalLM.from_pretrained(files.folder, dtype=dtype, **gguf)
    plain = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype, local_files_only=True)
    text = "Two friends were fixing a car. Who knew how the engine works?"
    reference_ids = AutoTokenizer.from_pretrained(files.folder, **gguf)(text)["input_ids"]
    plain_tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    assert plain_tokenizer(text)["input_ids"] == reference_ids
    assert plain_tokenizer.chat_template
    ids = torch.tensor([reference_ids])
    with torch.inference_mode():
        assert torch.equal(reference(ids).logits, plain(ids).logits)


def test_the_backend_loads_the_plain_copy_under_the_gguf_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    loads = watch_loads(monkeypatch)
    monkeypatch.setattr(local_model, "plain_model_folder", lambda files, dtype: tmp_path / "plain")
    local_model._load(ModelFiles(tmp_path, "model.gguf"), torch.device("cpu"), "float32")
    assert loads == [(ModelFiles(tmp_path / "plain"), torch.float32, "model.gguf")]


def test_an_unwritable_cache_falls_back_to_the_gguf_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    loads = watch_loads(monkeypatch)

    def refuse(files: ModelFiles, dtype: torch.dtype) -> Path:
        raise PermissionError(13, "Permission denied", "/read-only/plain")

    monkeypatch.setattr(local_model, "plain_model_folder", refuse)
    gguf = ModelFiles(tmp_path, "model.gguf")
    local_model._load(gguf, torch.device("cpu"), "float32")
    assert loads == [(gguf, torch.float32, "model.gguf")]


def watch_loads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[ModelFiles, torch.dtype, str]]:
    loads: list[tuple[ModelFiles, torch.dtype, str]] = []

    def load_files(
        files: ModelFiles, device: torch.device, dtype: torch.dtype, *, model_id: str
    ) -> None:
        loads.append((files, dtype, model_id))

    monkeypatch.setattr(local_model, "load_files", load_files)
    return loads


def test_a_files_hash_is_read_once_per_version_of_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gguf, store = tmp_path / "m.gguf", tmp_path / "cache" / "hashes"
    gguf.write_bytes(b"weights one")
    reads: list[Path] = []
    real = model_cache.file_sha256

    def counted(path: Path) -> str:
        reads.append(path)
        return real(path)

    monkeypatch.setattr(model_cache, "file_sha256", counted)
    first = plain_folder_name(gguf, torch.float32, hashes=store)
    assert plain_folder_name(gguf, torch.float32, hashes=store) == first
    assert plain_folder_name(gguf, torch.bfloat16, hashes=store).startswith(first[:-7])
    assert reads == [gguf]
    gguf.write_bytes(b"weights two")  # rewritten in place: another size and mtime
    second = plain_folder_name(gguf, torch.float32, hashes=store)
    assert second != first and reads == [gguf, gguf]
    assert second == plain_folder_name(gguf, torch.float32, hashes=tmp_path / "fresh")
    assert len(reads) == 3  # a store that never saw the file hashes it, alike
    (next(store.glob("*.json"))).write_text("{not json")
    assert plain_folder_name(gguf, torch.float32, hashes=store) == second
    assert len(reads) == 4
