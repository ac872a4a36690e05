"""The mistake memory: past questions with their answers and guidelines, found by cosine.

Each entry is embedded once, when it is added; a search embeds only its query. Vectors live
in one preallocated float32 matrix that doubles as it fills and, once `max_size` rows are
used, overwrites the oldest row (a ring). A search is one matrix product over the live rows
and a masked partial sort; past a few thousand rows a cheap bound skips most rows first.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from salam.embedding import Embedder, load_embedder
from salam.settings import Settings

Kind = Literal["correct", "mistake"]
# The sets of entries a search can be limited to; `guided` = mistakes with a guideline.
MemoryGroup = Literal["correct", "mistake", "guided"]
MEMORY_GROUPS: tuple[MemoryGroup, ...] = get_args(MemoryGroup)

_INITIAL_CAPACITY = 1024
_QUERY_BLOCK = 64  # queries scored per matrix product in search_many
_PRUNE_MIN_ROWS = 8192  # below this a full scan costs about as much as the bound
_PRUNE_RANK = 32
_PRUNE_FIT_SAMPLE = 8192
# Float32 rounding in the projected dot products is ~1e-6; stay well clear of it.
_BOUND_SLACK = 1e-4
_TAIL_FLOOR = 1e-5


@dataclass(frozen=True)
class MemoryEntry:
    """One remembered question. `question` is the retrieval key; `answer` is the model's."""

    id: str
    kind: Kind
    question: str
    answer: str
    target: str
    guideline: str | None = None
    task: str | None = None


@dataclass(frozen=True)
class Hit:
    entry: MemoryEntry
    score: float


class _RingRows:
    """Rows of a growable matrix with their entries and per-group masks; oldest overwritten."""

    def __init__(self, dim: int, max_size: int) -> None:
        self.dim = dim
        self.max_size = max_size
        self.size = 0  # live rows: slots [0, size)
        self.oldest = 0  # once full, the slot written next
        capacity = min(_INITIAL_CAPACITY, max_size)
        self.vectors = np.zeros((capacity, dim), dtype=np.float32)
        self.masks = {group: np.zeros(capacity, dtype=bool) for group in MEMORY_GROUPS}
        self.entries: list[MemoryEntry | None] = [None] * capacity

    def claim(self, entry: MemoryEntry) -> tuple[int, MemoryEntry | None]:
        """A slot for `entry`, and the entry it evicts (None while not full).

        The vector and masks are written afterwards, for a whole batch, by `write`.
        """
        if self.size < self.max_size:
            if self.size == len(self.entries):
                self._grow()
            slot, evicted = self.size, None
            self.size += 1
        else:
            slot, evicted = self.oldest, self.entries[self.oldest]
            self.oldest = (self.oldest + 1) % self.max_size
        self.entries[slot] = entry
        return slot, evicted

    def write(self, slots: np.ndarray, vectors: np.ndarray) -> None:
        """Fills claimed slots (each at most once) with their vectors and group masks."""
        self.vectors[slots] = vectors
        groups = [_groups_of(_entry_at(self.entries, slot)) for slot in slots]
        for group, mask in self.masks.items():
            mask[slots] = [group in kept for kept in groups]

    def _grow(self) -> None:
        capacity = min(2 * len(self.entries), self.max_size)
        self.vectors = _resized(self.vectors, capacity)
        self.masks = {group: _resized(mask, capacity) for group, mask in self.masks.items()}
        self.entries.extend([None] * (capacity - len(self.entries)))


def _resized(array: np.ndarray, rows: int) -> np.ndarray:
    bigger = np.zeros((rows, *array.shape[1:]), dtype=array.dtype)
    bigger[: len(array)] = array
    return bigger


class _ProjectionBound:
    """An upper bound on every row's cosine with a query, at a fraction of a full scan's cost.

    With B an orthonormal basis of the rows' main directions (PCA), q.x = (qB).(xB) + q'.x',
    where ' is the part outside B, and |q'.x'| <= |q'| |x'| (Cauchy-Schwarz). Only rows whose
    bound reaches the threshold are scored exactly, so results equal those of a full scan.
    Sentence embeddings keep most of their energy in a few dozen directions, so the bound is
    tight and rarely lets more than a handful of rows through at a 0.9 threshold.

    Kept because `benchmarks/retrieval.py` measures it, at 100k rows, well over 2x faster
    than both a plain scan and faiss's exact IndexFlatIP (figures in the README).
    """

    def __init__(self, rank: int = _PRUNE_RANK, min_rows: int = _PRUNE_MIN_ROWS) -> None:
        self.rank = rank
        self.min_rows = min_rows
        self.basis: np.ndarray | None = None  # (dim, rank)
        self.heads = np.zeros((0, rank), dtype=np.float32)  # rows projected on the basis
        self.tails = np.zeros(0, dtype=np.float32)  # norm of each row outside the basis
        self._rows_at_fit = 0
        self._added_since_fit = 0

    def record(self, rows: _RingRows, slots: np.ndarray) -> None:
        """Keeps the bound in step with rows just written; refits when the data has doubled."""
        self._added_since_fit += len(slots)
        if rows.dim <= 2 * self.rank or rows.size < self.min_rows:
            return
        if self.basis is None or self._added_since_fit >= self._rows_at_fit:
            self._fit(rows)
            return
        if len(self.heads) < len(rows.entries):
            self.heads = _resized(self.heads, len(rows.entries))
            self.tails = _resized(self.tails, len(rows.entries))
        self.heads[slots], self.tails[slots] = self._project(rows.vectors[slots])

    def upper_bounds(self, queries: np.ndarray, live: int) -> np.ndarray | None:
        """(queries, live) bounds on the cosines, or None when no bound is kept."""
        if self.basis is None or live < self.min_rows:
            return None
        query_heads, query_tails = self._project(queries)
        bounds = query_heads @ self.heads[:live].T
        bounds += query_tails[:, None] * self.tails[None, :live]
        return bounds

    def _fit(self, rows: _RingRows) -> None:
        live = rows.vectors[: rows.size]
        picked = np.random.default_rng(0).permutation(rows.size)[:_PRUNE_FIT_SAMPLE]
        sample = live[np.sort(picked)].astype(np.float64)
        # Uncentred second moments: the directions that carry the most of |x|^2.
        _, eigenvectors = np.linalg.eigh(sample.T @ sample)
        self.basis = np.ascontiguousarray(eigenvectors[:, ::-1][:, : self.rank], dtype=np.float32)
        self.heads = np.zeros((len(rows.entries), self.rank), dtype=np.float32)
        self.tails = np.zeros(len(rows.entries), dtype=np.float32)
        self.heads[: rows.size], self.tails[: rows.size] = self._project(live)
        self._rows_at_fit = rows.size
        self._added_since_fit = 0

    def _project(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        assert self.basis is not None
        heads = vectors @ self.basis
        # Unit rows: |x'|^2 = 1 - |xB|^2. The floor keeps rounding from making it too small.
        tails = np.sqrt(np.maximum(1.0 - np.einsum("ij,ij->i", heads, heads), 0.0) + _TAIL_FLOOR)
        return heads, tails.astype(np.float32)


class GuidelineMemory:
    """Past questions, searchable by cosine similarity of their embedded question text.

    Safe to share between threads: one lock covers adds and searches, and embedding (the
    slow part of `add`) runs outside it.
    """

    def __init__(
        self,
        embedder: Embedder,
        *,
        top_k: int = 3,
        threshold: float = 0.9,
        max_size: int = 100_000,
    ) -> None:
        assert max_size > 0, f"max_size must be positive, got {max_size}"
        self.embedder = embedder
        self.top_k = top_k
        self.threshold = threshold
        self.max_size = max_size
        self._rows: _RingRows | None = None  # sized on the first add, from the vectors
        self._slot_of: dict[str, int] = {}
        self._bound = _ProjectionBound()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, entry_id: object) -> bool:
        return entry_id in self._slot_of

    def add(self, entries: Sequence[MemoryEntry]) -> None:
        """Embeds and stores the entries not already present (ids already stored are kept)."""
        fresh = _first_of_each_id(entry for entry in entries if entry.id not in self)
        if fresh:
            self.add_embedded(fresh, self.embedder.encode([entry.question for entry in fresh]))

    def add_embedded(self, entries: Sequence[MemoryEntry], vectors: np.ndarray) -> None:
        """Stores entries whose question vectors are already known (e.g. read from a database)."""
        vectors = _unit_rows(vectors)
        if len(vectors) != len(entries):
            raise ValueError(f"{len(entries)} entries but {len(vectors)} vectors")
        with self._lock:
            rows = self._rows_for(vectors.shape[1])
            # slot -> row of `vectors`; when a batch wraps the ring, the later row wins a slot
            written: dict[int, int] = {}
            for index, entry in enumerate(entries):
                slot = self._claim(rows, entry)
                if slot is not None:
                    written[slot] = index
            slots = np.fromiter(written, dtype=np.intp, count=len(written))
            rows.write(slots, vectors[list(written.values())])
            self._bound.record(rows, slots)

    def vector(self, entry_id: str) -> np.ndarray:
        """The stored unit vector of an entry's question; KeyError when absent."""
        with self._lock:
            if self._rows is None or entry_id not in self._slot_of:
                raise KeyError(entry_id)
            vector: np.ndarray = self._rows.vectors[self._slot_of[entry_id]].copy()
            return vector

    def search(
        self,
        query: str,
        *,
        group: MemoryGroup,
        top_k: int | None = None,
        threshold: float | None = None,
    ) -> list[Hit]:
        """The best entries of `group`, score >= threshold, best first, at most top_k."""
        return self.search_many([query], group=group, top_k=top_k, threshold=threshold)[0]

    def search_many(
        self,
        queries: Sequence[str],
        *,
        group: MemoryGroup,
        top_k: int | None = None,
        threshold: float | None = None,
    ) -> list[list[Hit]]:
        """`search` for each query, embedding them all in one batch."""
        if not queries or not self._slot_of:
            return [[] for _ in queries]
        vectors = self.embedder.encode(list(queries))
        return self.search_vectors(vectors, group=group, top_k=top_k, threshold=threshold)

    def search_vectors(
        self,
        vectors: np.ndarray,
        *,
        group: MemoryGroup,
        top_k: int | None = None,
        threshold: float | None = None,
    ) -> list[list[Hit]]:
        """`search_many` for queries already embedded, one (dim,) row each."""
        vectors = _unit_rows(vectors)
        _check_group(group)
        k = self.top_k if top_k is None else top_k
        floor = self.threshold if threshold is None else threshold
        with self._lock:
            if self._rows is None or k <= 0:
                return [[] for _ in vectors]
            return [
                hits
                for start in range(0, len(vectors), _QUERY_BLOCK)
                for hits in self._search_block(
                    vectors[start : start + _QUERY_BLOCK], group, k, floor
                )
            ]

    def _rows_for(self, dim: int) -> _RingRows:
        if self._rows is None:
            self._rows = _RingRows(dim, self.max_size)
        if dim != self._rows.dim:
            raise ValueError(f"vectors have {dim} dimensions, the memory holds {self._rows.dim}")
        return self._rows

    def _claim(self, rows: _RingRows, entry: MemoryEntry) -> int | None:
        if entry.id in self._slot_of:
            return None
        slot, evicted = rows.claim(entry)
        if evicted is not None:
            del self._slot_of[evicted.id]
        self._slot_of[entry.id] = slot
        return slot

    def _search_block(
        self, queries: np.ndarray, group: MemoryGroup, k: int, floor: float
    ) -> list[list[Hit]]:
        rows = self._rows
        assert rows is not None
        live = rows.size
        allowed = rows.masks[group][:live]
        bounds = self._bound.upper_bounds(queries, live)
        if bounds is None:
            scores = queries @ rows.vectors[:live].T
            return [self._hits(s, allowed, k, floor) for s in scores]
        hits = []
        for query, bound in zip(queries, bounds, strict=True):
            candidates = np.flatnonzero(allowed & (bound >= floor - _BOUND_SLACK))
            if len(candidates) > live // 8:  # gathering that many rows costs more than a scan
                hits.append(self._hits(rows.vectors[:live] @ query, allowed, k, floor))
            else:
                scores = rows.vectors[candidates] @ query
                hits.append(self._hits(scores, None, k, floor, slots=candidates))
        return hits

    def _hits(
        self,
        scores: np.ndarray,
        allowed: np.ndarray | None,
        k: int,
        floor: float,
        *,
        slots: np.ndarray | None = None,
    ) -> list[Hit]:
        """Top k of `scores` at or above `floor`; `slots[i]` is the row of `scores[i]`."""
        passing = scores >= floor
        picked = np.flatnonzero(passing if allowed is None else passing & allowed)
        if len(picked) > k:
            picked = picked[np.argpartition(scores[picked], -k)[-k:]]
        picked = picked[np.argsort(-scores[picked], kind="stable")]
        rows = self._rows
        assert rows is not None
        found = picked if slots is None else slots[picked]
        return [
            Hit(_entry_at(rows.entries, slot), float(score))
            for slot, score in zip(found, scores[picked], strict=True)
        ]


def memory_from_settings(settings: Settings, embedder: Embedder | None = None) -> GuidelineMemory:
    """The memory the settings describe. `embedder` stands in for the one they name, for a
    process that already holds it loaded."""
    return GuidelineMemory(
        embedder if embedder is not None else load_embedder(settings.embedder),
        top_k=settings.memory_top_k,
        threshold=settings.memory_threshold,
        max_size=settings.memory_max_size,
    )


def _groups_of(entry: MemoryEntry) -> tuple[MemoryGroup, ...]:
    if entry.kind == "correct":
        return ("correct",)
    return ("mistake", "guided") if entry.guideline else ("mistake",)


def _check_group(group: str) -> None:
    if group not in MEMORY_GROUPS:
        raise ValueError(f"unknown memory group {group!r}; one of {', '.join(MEMORY_GROUPS)}")


def _entry_at(entries: list[MemoryEntry | None], slot: int) -> MemoryEntry:
    entry = entries[slot]
    assert entry is not None, f"slot {slot} is live but holds no entry"
    return entry


def _first_of_each_id(entries: Iterable[MemoryEntry]) -> list[MemoryEntry]:
    seen: dict[str, MemoryEntry] = {}
    for entry in entries:
        seen.setdefault(entry.id, entry)
    return list(seen.values())


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Float32 rows of length 1 (zero rows stay zero), so dot products are cosines."""
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.ndim != 2:
        raise ValueError(f"expected a (n, dim) matrix, got shape {matrix.shape}")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)
