"""Guideline retrieval latency: salam's stored vectors against re-encoding the memory per query.

    python benchmarks/retrieval.py [--sizes 1000,10000,100000] [--queries 200] [--real 1000]

Embeds `--real` synthetic question-like texts with the real embedder (all-MiniLM-L6-v2 by
default), then fills larger memories with vectors drawn from a Gaussian fitted to those
embeddings, because embedding 100k texts on a small CPU takes too long. Prints a table.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import TypeVar

import numpy as np

from salam.embedding import Embedder, HashEmbedder, load_embedder
from salam.memory import GuidelineMemory, Kind, MemoryEntry

T = TypeVar("T")

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


def percentiles_ms(samples: Sequence[float]) -> tuple[float, float]:
    p50, p99 = np.percentile(np.asarray(samples) * 1e3, [50, 99])
    return float(p50), float(p99)


def timed(call: Callable[[], object]) -> float:
    return timed_result(call)[1]


def timed_result(call: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


def full_scan_ms(vectors: np.ndarray, queries: np.ndarray, top_k: int) -> tuple[float, float]:
    """A plain scan of every row (matrix-vector product and masked top-k), for comparison."""
    allowed = np.arange(len(vectors)) % 2 == 1

    def scan(query: np.ndarray) -> np.ndarray:
        scores = np.where(allowed, vectors @ query, -np.inf)
        return np.argpartition(scores, -top_k)[-top_k:]

    return percentiles_ms([timed(partial(scan, query)) for query in queries])


def reference_seconds(embedder: Embedder, texts: list[str], query: str, repeats: int) -> float:
    """The reference code's way: encode the whole memory again for every query."""

    def search_by_reencoding() -> None:
        memory = embedder.encode(texts)
        memory @ embedder.encode([query])[0]

    return float(np.median([timed(search_by_reencoding) for _ in range(repeats)]))


def measure_size(
    size: int, real: np.ndarray, queries: np.ndarray, seed: int
) -> dict[str, float | int]:
    fill = fitted_gaussian_rows(real, max(0, size - len(real)), seed)
    vectors = np.concatenate([real[:size], fill])
    # Filled and searched by vector, so the embedder is never called.
    memory = GuidelineMemory(HashEmbedder(real.shape[1]), top_k=3, threshold=0.9)
    load_s = timed(lambda: memory.add_embedded(memory_entries(size), vectors))
    search_one = partial(memory.search_vectors, source="feedback")
    single = [timed(partial(search_one, query[None])) for query in queries]
    batch_s = timed(lambda: memory.search_vectors(queries, source="feedback"))
    found = memory.search_vectors(queries, source="feedback")
    p50, p99 = percentiles_ms(single)
    scan_p50, scan_p99 = full_scan_ms(vectors, queries, 3)
    return {
        "size": size,
        "load_s": load_s,
        "p50": p50,
        "p99": p99,
        "batched": batch_s / len(queries) * 1e3,
        "scan_p50": scan_p50,
        "scan_p99": scan_p99,
        "hit_rate": sum(bool(hits) for hits in found) / len(found),
    }


def print_table(rows: list[dict[str, float | int]], real_count: int) -> None:
    print(f"\nsearch (top-3, threshold 0.9, source=feedback); first {real_count} rows real,")
    print("the rest drawn from a Gaussian fitted to them")
    header = (
        f"{'entries':>8} {'load s':>7} {'p50 ms':>7} {'p99 ms':>7} {'batch ms/q':>10} "
        f"{'scan p50':>8} {'scan p99':>8} {'hit rate':>8}"
    )
    print(header)
    for row in rows:
        print(
            f"{row['size']:>8} {row['load_s']:>7.2f} {row['p50']:>7.2f} {row['p99']:>7.2f} "
            f"{row['batched']:>10.3f} {row['scan_p50']:>8.2f} {row['scan_p99']:>8.2f} "
            f"{row['hit_rate']:>8.2f}"
        )
    print("(scan = plain matrix-vector product over every row + masked top-k, for comparison)")


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
    print("(salam ms = query embedding p50 + search p50)")


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
    embed_p50, embed_p99 = percentiles_ms(embed_times)
    print(f"query embedding, one at a time: p50 {embed_p50:.1f} ms, p99 {embed_p99:.1f} ms")

    rows = [measure_size(size, real, queries, args.seed) for size in sizes]
    print_table(rows, len(texts))
    reference_texts = texts[: min(sizes)]
    per_query = reference_seconds(embedder, reference_texts, query_texts[0], args.reference_repeats)
    salam_ms = {int(row["size"]): embed_p50 + float(row["p50"]) for row in rows}
    print_reference(per_query, len(reference_texts), sizes, salam_ms)


if __name__ == "__main__":
    main()
