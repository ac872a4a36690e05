"""GuidelineMemory with the hashing embedder: groups, ranking, eviction, exactness, threads."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import pytest

from salam.embedding import HashEmbedder
from salam.memory import GuidelineMemory, Hit, Kind, MemoryEntry, MemoryGroup, memory_from_settings
from salam.settings import Settings

QUESTION = "Who was not comfortable using the phone? (A) the grandfather (B) the grandson"


class CountingEmbedder(HashEmbedder):
    """Records every text it embeds, to check what gets embedded and when."""

    def __init__(self) -> None:
        super().__init__(dim=64)
        self.seen: list[str] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.seen.extend(texts)
        return super().encode(texts)


def entry(
    entry_id: str,
    question: str = QUESTION,
    *,
    kind: Kind = "mistake",
    guideline: str | None = "Do not assume from age.",
) -> MemoryEntry:
    return MemoryEntry(
        id=entry_id,
        kind=kind,
        question=question,
        answer="(A)",
        target="(B)",
        guideline=guideline,
    )


def ids(hits: Sequence[Hit]) -> list[str]:
    return [hit.entry.id for hit in hits]


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    return (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture
def embedder() -> CountingEmbedder:
    return CountingEmbedder()


def test_empty_memory_returns_nothing_without_embedding(embedder: CountingEmbedder) -> None:
    memory = GuidelineMemory(embedder)
    assert memory.search(QUESTION, group="guided") == []
    assert memory.search_many([QUESTION, "other"], group="mistake") == [[], []]
    assert embedder.seen == []
    assert len(memory) == 0


def test_same_question_is_found_with_cosine_one(embedder: CountingEmbedder) -> None:
    memory = GuidelineMemory(embedder)
    memory.add([entry("a"), entry("b", "What is the date tomorrow in MM/DD/YYYY?")])
    hits = memory.search(QUESTION, group="guided")
    assert ids(hits) == ["a"]
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert hits[0].entry.guideline == "Do not assume from age."


def test_top_k_keeps_the_best_in_descending_order(embedder: CountingEmbedder) -> None:
    memory = GuidelineMemory(embedder, top_k=3, threshold=-1.0)
    variants = [QUESTION + " extra" * n for n in range(6)]
    memory.add([entry(f"v{n}", text) for n, text in enumerate(variants)])
    hits = memory.search(QUESTION, group="mistake")
    scores = [hit.score for hit in hits]
    assert ids(hits) == ["v0", "v1", "v2"]
    assert scores == sorted(scores, reverse=True)
    assert len(memory.search(QUESTION, group="mistake", top_k=5)) == 5
    assert memory.search(QUESTION, group="mistake", top_k=0) == []


def test_threshold_drops_weak_matches(embedder: CountingEmbedder) -> None:
    memory = GuidelineMemory(embedder, threshold=0.9)
    memory.add([entry("unrelated", "Sort these words alphabetically: pear apple fig")])
    assert memory.search(QUESTION, group="mistake") == []
    loose = memory.search(QUESTION, group="mistake", threshold=-1.0)
    assert ids(loose) == ["unrelated"]
    assert loose[0].score < 0.9


@pytest.mark.parametrize(
    ("group", "expected"),
    [
        ("correct", ["right"]),
        ("mistake", ["guided", "bare", "blank"]),
        ("guided", ["guided"]),
    ],
)
def test_group_filter(embedder: CountingEmbedder, group: MemoryGroup, expected: list[str]) -> None:
    memory = GuidelineMemory(embedder, top_k=10, threshold=0.5)
    memory.add(
        [
            entry("right", kind="correct", guideline=None),
            entry("guided", guideline="Check who the context names."),
            entry("bare", guideline=None),
            entry("blank", guideline=""),
        ]
    )
    assert sorted(ids(memory.search(QUESTION, group=group))) == sorted(expected)


def test_unknown_group_is_refused(embedder: CountingEmbedder) -> None:
    memory = GuidelineMemory(embedder)
    memory.add([entry("a")])
    with pytest.raises(ValueError, match="unknown memory group 'feedback'"):
        memory.search(QUESTION, group="feedback")  # type: ignore[arg-type]


def test_memory_from_settings_takes_its_limits_from_them(embedder: CountingEmbedder) -> None:
    settings = Settings(memory_top_k=5, memory_threshold=0.5, memory_max_size=7)
    memory = memory_from_settings(settings, embedder)
    assert (memory.top_k, memory.threshold, memory.max_size) == (5, 0.5, 7)
    assert memory.embedder is embedder


def test_memory_from_settings_loads_the_embedder_they_name() -> None:
    memory = memory_from_settings(Settings(embedder="hash"))
    assert isinstance(memory.embedder, HashEmbedder)


def test_adding_a_known_id_changes_nothing_and_embeds_nothing(embedder: CountingEmbedder) -> None:
    memory = GuidelineMemory(embedder)
    memory.add([entry("a"), entry("a", "a different question for the same id")])
    memory.add([entry("a", "yet another question")])
    assert len(memory) == 1
    assert embedder.seen == [QUESTION]
    assert memory.search(QUESTION, group="mistake")[0].entry.question == QUESTION


def test_oldest_entries_are_evicted_past_max_size(embedder: CountingEmbedder) -> None:
    memory = GuidelineMemory(embedder, max_size=3, threshold=-1.0, top_k=10)
    memory.add([entry("e0"), entry("e1")])
    memory.add([entry("e2"), entry("e3"), entry("e4")])
    assert len(memory) == 3
    assert "e0" not in memory and "e1" not in memory
    assert sorted(ids(memory.search(QUESTION, group="mistake"))) == ["e2", "e3", "e4"]
    with pytest.raises(KeyError):
        memory.vector("e0")
    memory.add([entry("e5")])
    assert sorted(ids(memory.search(QUESTION, group="mistake"))) == ["e3", "e4", "e5"]


def test_a_batch_longer_than_max_size_keeps_its_last_entries() -> None:
    memory = GuidelineMemory(HashEmbedder(), max_size=4, threshold=-1.0, top_k=10)
    memory.add([entry(f"e{n}", f"question number {n}") for n in range(10)])
    assert len(memory) == 4
    assert [f"e{n}" in memory for n in range(10)] == [False] * 6 + [True] * 4
    hit = memory.search("question number 8", group="mistake", top_k=1)[0]
    assert hit.entry.id == "e8"
    assert hit.score == pytest.approx(1.0, abs=1e-5)


def test_add_embedded_stores_given_vectors_normalised() -> None:
    memory = GuidelineMemory(HashEmbedder(dim=4), threshold=0.9)
    vectors = np.array([[3.0, 4.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]])
    memory.add_embedded([entry("x"), entry("y")], vectors)
    np.testing.assert_allclose(memory.vector("x"), [0.6, 0.8, 0.0, 0.0], atol=1e-6)
    hits = memory.search_vectors(np.array([[0.0, 0.0, 2.0, 0.1]]), group="mistake")
    assert ids(hits[0]) == ["y"]


def test_add_embedded_rejects_mismatched_input() -> None:
    memory = GuidelineMemory(HashEmbedder(dim=4))
    with pytest.raises(ValueError, match="2 entries but 1 vectors"):
        memory.add_embedded([entry("x"), entry("y")], np.ones((1, 4)))
    memory.add_embedded([entry("x")], np.ones((1, 4)))
    with pytest.raises(ValueError, match="dimensions"):
        memory.add_embedded([entry("y")], np.ones((1, 5)))


def test_search_many_matches_search(embedder: CountingEmbedder) -> None:
    memory = GuidelineMemory(embedder, threshold=0.2, top_k=2)
    texts = [f"{QUESTION} case {n}" for n in range(20)]
    memory.add([entry(f"e{n}", text) for n, text in enumerate(texts)])
    queries = [texts[3], "nothing alike at all", texts[17] + " again"]
    embedder.seen.clear()
    batched = memory.search_many(queries, group="mistake")
    assert embedder.seen == queries
    one_by_one = [memory.search(query, group="mistake") for query in queries]
    assert [ids(hits) for hits in batched] == [ids(hits) for hits in one_by_one]
    for hits, alone in zip(batched, one_by_one, strict=True):
        assert [h.score for h in hits] == pytest.approx([h.score for h in alone], abs=1e-5)


def test_growing_past_the_first_allocation_keeps_every_row() -> None:
    rng = np.random.default_rng(1)
    vectors = unit_rows(rng.standard_normal((3000, 16)))
    memory = GuidelineMemory(HashEmbedder(dim=16), threshold=0.999)
    memory.add_embedded([entry(f"r{n}") for n in range(1000)], vectors[:1000])
    memory.add_embedded([entry(f"r{n}") for n in range(1000, 3000)], vectors[1000:])
    found = memory.search_vectors(vectors[[0, 1500, 2999]], group="mistake")
    assert [ids(hits)[0] for hits in found] == ["r0", "r1500", "r2999"]
    np.testing.assert_allclose(memory.vector("r2999"), vectors[2999], atol=1e-6)


def anisotropic_vectors(rng: np.random.Generator, rows: int, dim: int) -> np.ndarray:
    """Unit rows that, like sentence embeddings, keep most energy in a few directions."""
    scales = 1.0 / np.arange(1, dim + 1) ** 0.8
    return unit_rows(rng.standard_normal((rows, dim)) * scales + 0.05)


def brute_force(
    vectors: np.ndarray, allowed: np.ndarray, query: np.ndarray, k: int, floor: float
) -> list[int]:
    scores = np.where(allowed, vectors @ query, -np.inf)
    order = np.argsort(-scores, kind="stable")[:k]
    return [int(row) for row in order if scores[row] >= floor]


@pytest.mark.parametrize("floor", [0.95, 0.9, 0.6, -1.0])
def test_large_memory_search_equals_a_full_scan(floor: float) -> None:
    # Past 8192 rows a projection bound skips rows; it must never change the answer.
    rng = np.random.default_rng(7)
    dim, rows, max_size = 96, 12_000, 10_000
    vectors = anisotropic_vectors(rng, rows, dim)
    queries = anisotropic_vectors(rng, 40, dim)
    kinds: list[Kind] = ["correct" if n % 3 == 0 else "mistake" for n in range(rows)]
    entries = [entry(f"r{n}", kind=kinds[n], guideline="g" if n % 2 else None) for n in range(rows)]
    guided = np.array([e.kind == "mistake" and bool(e.guideline) for e in entries])
    live = slice(rows - max_size, rows)
    near = rng.choice(np.flatnonzero(guided[live]) + rows - max_size, size=20, replace=False)
    queries[:20] = unit_rows(vectors[near] + 0.02 * rng.standard_normal((20, dim)))
    memory = GuidelineMemory(HashEmbedder(dim=dim), top_k=3, max_size=max_size)
    memory.add_embedded(entries[:9000], vectors[:9000])
    for start in range(9000, rows, 500):  # later rows are projected on the fitted basis
        memory.add_embedded(entries[start : start + 500], vectors[start : start + 500])
    assert memory._bound.basis is not None, "the bound should be in use at this size"

    found = memory.search_vectors(queries, group="guided", threshold=floor)
    for query, hits in zip(queries, found, strict=True):
        expected = brute_force(vectors[live], guided[live], query, 3, floor)
        assert ids(hits) == [f"r{row + rows - max_size}" for row in expected]
    assert all(f"r{row}" in ids(hits) for row, hits in zip(near, found[:20], strict=True))


def test_concurrent_adds_and_searches_stay_consistent() -> None:
    memory = GuidelineMemory(HashEmbedder(), max_size=500, threshold=0.99, top_k=1)
    failures: list[str] = []

    def add_batches(worker: int) -> None:
        for batch in range(20):
            memory.add(
                [entry(f"w{worker}b{batch}n{n}", f"w{worker} b{batch} n{n}") for n in range(10)]
            )

    def search_own_questions() -> None:
        for n in range(200):
            for hit in memory.search(f"w0 b{n % 20} n{n % 10}", group="mistake"):
                if hit.entry.question != f"w0 b{n % 20} n{n % 10}":
                    failures.append(hit.entry.question)

    threads = [threading.Thread(target=add_batches, args=(w,)) for w in range(3)]
    threads.append(threading.Thread(target=search_own_questions))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(memory) == 500
    newest = memory.search("w2 b19 n9", group="mistake")
    assert ids(newest) == ["w2b19n9"]
