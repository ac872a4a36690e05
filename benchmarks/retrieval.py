"""Guideline retrieval latency: the memory's search against a plain scan, faiss, and
re-encoding the memory per query as the reference code does.

    python benchmarks/retrieval.py [--sizes 1000,10000,100000] [--queries 200] [--real 1000]

Embeds `--real` synthetic question-like texts with the real embedder (all-MiniLM-L6-v2 by
default), then fills larger memories with vectors drawn from a Gaussian fitted to those
embeddings, because embedding 100k texts on a small CPU takes too long. The same queries go
to the memory as shipped, to one float32 matrix-vector product over every row, and to faiss's
exact IndexFlatIP (when faiss-cpu, a dev dependency, is installed). Prints a table.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, TypeVar

import numpy as np

from salam.embedding import Embedder, HashEmbedder, load_embedder
from salam.memory import GuidelineMemory, Kind, MemoryEntry

T = TypeVar("T")
# A (dim,) query -> the scores of its hits, best first. Scores, not rows, are compared:
# repeated questions give rows with equal scores, and any of them is a right answer.
Search = Callable[[np.ndarray], list[float]]

TOP_K = 3
THRESHOLD = 0.9

NAMES = ["Maria Lopez", "Jamal Jones", "Chen Wei", "Fatima Khan", "Olga Petrova", "Tom Baker"]
NAMES += ["Aisha Bello", "Lars Berg", "Priya Nair", "Diego Ruiz", "Hana Sato", "Sam Cohen"]
PLACES = ["bus stop", "library", "clinic", "job fair", "coffee shop", "school gym", "airport"]
DOINGS = ["waiting in line", "filling in forms", "talking loudly", "reading quietly"]
ASKS = ["Who was late to work?", "Who was rude?", "Who is good at math?", "Who was helpful?"]
ITEMS = ["a red book", "a green ball", "a blue vase", "a white cup", "an old clock", "a fig"]


def bbq_like(rng: random.Random) -> str:
    first, second = rng.sample(NAMES, 2)
    return (
        f"At the {rng.choice(PLACES)}, {first} and {second} were {rng.choice(DOINGS)}. "
        f"{rng.choice(ASKS)}\nOptions:\n(A) {first}\n(B) {second}\n(C) Cannot be determined"
    )


def bbh_like(rng: random.Random) -> str:
    first, second, third = rng.sample(ITEMS, 3)
    return (
        f"On a shelf there are three objects: {first}, {second} and {third}. "
        f"The {first.split()[-1]} is left of the {second.split()[-1]}. Which object is "
        f"{rng.choice(['leftmost', 'rightmost', 'in the middle'])}?\n"
        f"Options:\n(A) {first}\n(B) {second}\n(C) {third}"
    )


def question_texts(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [(bbq_like if rng.random() < 0.5 else bbh_like)(rng) for _ in range(count)]


def name_changed(text: str, rng: random.Random) -> str:
    """The same question about someone else: what a retrieval should still match."""
    present = [name for name in NAMES if name in text]
    if not present:
        return text.replace("shelf", "table")
    return text.replace(present[0], rng.choice([n for n in NAMES if n not in text]))


def fitted_gaussian_rows(real: np.ndarray, count: int, seed: int) -> np.ndarray:
    """Unit rows from N(mean, cov) of the real embeddings: same anisotropy, no text needed."""
    rng = np.random.default_rng(seed)
    mean = real.mean(axis=0)
    covariance = np.cov(real, rowvar=False) + 1e-6 * np.eye(real.shape[1])
    factor = np.linalg.cholesky(covariance)
    rows = mean + rng.standard_normal((count, real.shape[1])) @ factor.T
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def memory_entries(count: int) -> list[MemoryEntry]:
    kinds: list[Kind] = ["mistake", "mistake", "correct"]
    return [
        MemoryEntry(
            id=f"m{n}",
            kind=kinds[n % 3],
            question=f"question {n}",
            answer="(A)",
            target="(B)",
            guideline="Check what the context actually says." if n % 2 else None,
        )
        for n in range(count)
    ]


def guided_mask(entries: Sequence[MemoryEntry]) -> np.ndarray:
    """The rows a `guided` search may return, for the searches that are not the memory."""
    return np.array([entry.kind == "mistake" and bool(entry.guideline) for entry in entries])


def percentiles_ms(samples: Sequence[float], ranks: Sequence[int] = (50, 95)) -> list[float]:
    return [float(value) for value in np.percentile(np.asarray(samples) * 1e3, ranks)]


def timed(call: Callable[[], object]) -> float:
    return timed_result(call)[1]


def timed_result(call: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


def shipped_search(memory: GuidelineMemory) -> Search:
    def search(query: np.ndarray) -> list[float]:
        return [hit.score for hit in memory.search_vectors(query[None], group="guided")[0]]

    return search


def plain_search(vectors: np.ndarray, allowed: np.ndarray, k: int, floor: float) -> Search:
    """Every row scored by one matrix-vector product over a contiguous float32 matrix."""
    matrix = np.ascontiguousarray(vectors, dtype=np.float32)

    def search(query: np.ndarray) -> list[float]:
        scores = np.where(allowed, matrix @ query, -np.inf)
        best = np.argpartition(scores, -k)[-k:]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [float(scores[row]) for row in best if scores[row] >= floor]

    return search


class FaissSearch:
    """faiss's exact inner-product index (IndexFlatIP), limited to the group by a bitmap."""

    def __init__(self, faiss: Any, vectors: np.ndarray, allowed: np.ndarray) -> None:
        self.index = faiss.IndexFlatIP(vectors.shape[1])
        self.index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        # Kept on self: the selector reads the bitmap through a raw pointer.
        self.bitmap = np.packbits(allowed, bitorder="little")
        selector = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(self.bitmap))
        self.params = faiss.SearchParameters(sel=selector)
        self.selector = selector

    def __call__(self, query: np.ndarray) -> list[float]:
        scores, rows = self.index.search(query[None], TOP_K, params=self.params)
        kept = (scores[0] >= THRESHOLD) & (rows[0] >= 0)
        return [float(score) for score in scores[0][kept]]


def faiss_module() -> Any | None:
    try:
        import faiss
    except ImportError:
        return None
    return faiss


def interleaved_latencies(
    searches: dict[str, Search], queries: np.ndarray
) -> tuple[dict[str, list[float]], dict[str, list[list[float]]]]:
    """Each query goes to every search in turn, so load that comes and goes on a shared
    machine falls on all of them alike. One untimed call each first, to warm caches."""
    for search in searches.values():
        search(queries[0])
    seconds: dict[str, list[float]] = {name: [] for name in searches}
    found: dict[str, list[list[float]]] = {name: [] for name in searches}
    for query in queries:
        for name, search in searches.items():
            scores, elapsed = timed_result(partial(search, query))
            seconds[name].append(elapsed)
            found[name].append(scores)
    return seconds, found


def same_hits(mine: list[float], theirs: list[float]) -> bool:
    """Equal up to float32 rounding, which differs between BLAS and faiss kernels."""
    return len(mine) == len(theirs) and np.allclose(mine, theirs, rtol=0, atol=1e-5)


def measure_size(size: int, real: np.ndarray, queries: np.ndarray, seed: int) -> dict[str, float]:
    fill = fitted_gaussian_rows(real, max(0, size - len(real)), seed)
    vectors = np.concatenate([real[:size], fill])
    entries = memory_entries(size)
    allowed = guided_mask(entries)
    # Filled and searched by vector, so the embedder is never called.
    memory = GuidelineMemory(HashEmbedder(real.shape[1]), top_k=TOP_K, threshold=THRESHOLD)
    load_s = timed(lambda: memory.add_embedded(entries, vectors))
    searches = {
        "shipped": shipped_search(memory),
        "plain": plain_search(vectors, allowed, TOP_K, THRESHOLD),
    }
    faiss = faiss_module()
    if faiss is not None:
        searches["faiss"] = FaissSearch(faiss, vectors, allowed)
    seconds, found = interleaved_latencies(searches, queries)
    row: dict[str, float] = {"size": size, "load_s": load_s}
    for name, samples in seconds.items():
        row[f"{name}_p50"], row[f"{name}_p95"] = percentiles_ms(samples)
    row["hit_rate"] = sum(bool(scores) for scores in found["shipped"]) / len(queries)
    row["agree"] = all(
        same_hits(mine, theirs)
        for results in found.values()
        for mine, theirs in zip(found["shipped"], results, strict=True)
    )
    return row


def print_table(rows: list[dict[str, float]], real_count: int) -> None:
    print(
        f"\nsearch latency, one query at a time (top-{TOP_K}, threshold {THRESHOLD}, group guided);"
    )
    print(f"first {real_count} rows real, the rest drawn from a Gaussian fitted to them")
    names = [name for name in ("shipped", "plain", "faiss") if f"{name}_p50" in rows[0]]
    header = f"{'entries':>8} {'load s':>7}"
    header += "".join(f" {name + ' p50':>11} {name + ' p95':>11}" for name in names)
    header += "".join(f" {name + '/shipped':>15}" for name in names[1:])
    print(header + f" {'hit rate':>8} {'same hits':>9}")
    for row in rows:
        line = f"{int(row['size']):>8} {row['load_s']:>7.2f}"
        line += "".join(
            f" {row[name + '_p50']:>11.2f} {row[name + '_p95']:>11.2f}" for name in names
        )
        line += "".join(f" {row[name + '_p50'] / row['shipped_p50']:>14.1f}x" for name in names[1:])
        print(line + f" {row['hit_rate']:>8.2f} {'yes' if row['agree'] else 'NO':>9}")
    print("(ms; shipped = GuidelineMemory.search_vectors; plain = one float32 matrix-vector")
    print(" product over every row, masked partial sort; faiss = IndexFlatIP, exact, group bitmap)")
    if "faiss" not in names:
        print("faiss-cpu is not installed: pip install -e '.[dev]' to add its column")


def reference_seconds(embedder: Embedder, texts: list[str], query: str, repeats: int) -> float:
    """The reference code's way: encode the whole memory again for every query."""

    def search_by_reencoding() -> None:
        memory = embedder.encode(texts)
        memory @ embedder.encode([query])[0]

    return float(np.median([timed(search_by_reencoding) for _ in range(repeats)]))


def print_reference(
    per_query_s: float, texts: int, sizes: list[int], salam_ms: dict[int, float]
) -> None:
    print(f"\nreference: re-encode the memory on every query, measured at {texts} texts")
    print(f"{'entries':>8} {'reference s':>12} {'salam ms':>9} {'ratio':>9}")
    for size in sizes:
        estimate = per_query_s * size / texts
        note = "" if size == texts else "  (extrapolated, linear in entries)"
        ratio = estimate * 1e3 / salam_ms[size]
        print(f"{size:>8} {estimate:>12.2f} {salam_ms[size]:>9.2f} {ratio:>9.0f}x{note}")
    print("(salam ms = query embedding p50 + shipped search p50)")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--real", type=int, default=1000, help="texts embedded for real")
    parser.add_argument("--reference-repeats", type=int, default=3)
    parser.add_argument("--embedder", default="", help="model folder; '' = all-MiniLM-L6-v2")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    embedder = load_embedder(args.embedder)
    texts = question_texts(args.real, args.seed)
    embedder.encode(texts[:8])  # loads the model, so it is not timed below
    real, embed_s = timed_result(lambda: embedder.encode(texts))
    print(f"embedded {len(texts)} texts in {embed_s:.1f} s ({len(texts) / embed_s:.0f} texts/s)")

    rng = random.Random(args.seed + 1)
    # Half the queries reword a stored question (should hit), half are new (mostly should not).
    query_texts = [name_changed(rng.choice(texts), rng) for _ in range(args.queries // 2)]
    query_texts += question_texts(args.queries - len(query_texts), args.seed + 2)
    embed_times = [timed(partial(embedder.encode, [text])) for text in query_texts]
    queries = embedder.encode(query_texts)
    embed_p50, embed_p95 = percentiles_ms(embed_times)
    print(f"query embedding, one at a time: p50 {embed_p50:.1f} ms, p95 {embed_p95:.1f} ms")

    rows = [measure_size(size, real, queries, args.seed) for size in sizes]
    print_table(rows, len(texts))
    reference_texts = texts[: min(sizes)]
    per_query = reference_seconds(embedder, reference_texts, query_texts[0], args.reference_repeats)
    salam_ms = {int(row["size"]): embed_p50 + row["shipped_p50"] for row in rows}
    print_reference(per_query, len(reference_texts), sizes, salam_ms)


if __name__ == "__main__":
    main()
