"""Questions per second of the local backend on BBQ, and how close that is to the hardware.

Two ways to answer a multiple-choice exam prompt ("...\\nThe correct answer is "):
  naive  free greedy generation of 8 tokens, then the grader reads the option from the text
  fast   the choice constraint: one forward pass per batch, the option picked from the logits
Both at several batch sizes, with accuracy and agreement (agree*: only where the naive output
names an option), against the prefill bound: the measured matmul rate divided by the work of
one question's prompt (2 x parameters x tokens).

`--json N` instead measures how often the study assistant's output parses as feedback JSON
when its answer is started with nothing, "{" or the first key (what the backend does).

    .venv/bin/python benchmarks/local_throughput.py --data-dir ../shared/data --threads 1
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from salam.assistant import parse_feedback
from salam.data import load_questions
from salam.grading import grade
from salam.llm.base import Constraint, GenerationParams, Prompt
from salam.llm.local import LocalLLM
from salam.llm.local_generate import generate_texts
from salam.llm.local_model import LoadedModel, load_model
from salam.llm.local_template import encode_prompt
from salam.llm.model_files import locate_model
from salam.prompts import FEEDBACK_SCHEMA, exam_prompt, feedback_prompt
from salam.records import QuestionRecord

# SmolLM2 mostly answers "The correct answer is (B)": seven tokens. Six, the first choice for this
# benchmark, cut the label to "(B", which no grader should read as an answer.
NAIVE_TOKENS = 8


def main() -> None:
    args = _arguments()
    torch.set_num_threads(args.threads)
    per_task = math.ceil(args.questions / 11)
    records = load_questions("bbq-salam", data_dir=args.data_dir, limit=per_task)
    records = records[: args.questions]
    loaded = load_model(locate_model(args.model), "cpu", "auto")
    if args.json:
        _json_parse_rates(loaded, records[: args.json], args.json_tokens)
    else:
        _throughput(args, loaded, records)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="holds salam/bbq_sm/")
    parser.add_argument("--model", default="", help="GGUF path or model folder; '' = SmolLM2")
    parser.add_argument("--questions", type=int, default=128)
    parser.add_argument("--batch-sizes", default="1,8,32")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--json", type=int, default=0, help="measure JSON parse rates on N")
    parser.add_argument("--json-tokens", type=int, default=256)
    return parser.parse_args()


def _throughput(
    args: argparse.Namespace, loaded: LoadedModel, records: list[QuestionRecord]
) -> None:
    free = [Prompt(exam_prompt(record)) for record in records]
    constrained = [
        Prompt(exam_prompt(record), constraint=Constraint(choices=record.labels))
        for record in records
    ]
    tokens = statistics.mean(len(encode_prompt(loaded, prompt)) for prompt in free)
    parameters = sum(p.numel() for p in loaded.model.parameters())
    fp32, bf16 = _matmul_rate(torch.float32), _matmul_rate(torch.bfloat16)
    bound = fp32 / (2 * parameters * tokens)
    print(f"{len(records)} BBQ questions, mean prompt {tokens:.1f} tokens (chat template)")
    print(f"threads {torch.get_num_threads()}, parameters {parameters / 1e6:.1f} M")
    print(f"matmul fp32 {fp32 / 1e9:.1f} GFLOP/s, bf16 {bf16 / 1e9:.1f} GFLOP/s")
    print(f"prefill bound (fp32) {bound:.2f} questions/s\n")
    print(f"{'path':<6} {'batch':>5} {'q/s':>7} {'accuracy':>9} {'answered':>9} ", end="")
    print(f"{'agree':>6} {'agree*':>6} {'bound':>6}")
    for batch_size in (int(size) for size in args.batch_sizes.split(",")):
        llm = LocalLLM(args.model, device="cpu", batch_size=batch_size)
        llm.generate(constrained[:2], GenerationParams())  # one-time work: plans, shared head
        naive, naive_rate = _answer(llm, free)
        fast, fast_rate = _answer(llm, constrained)
        naive_grades = [grade(r, text) for r, text in zip(records, naive, strict=True)]
        fast_grades = [grade(r, text) for r, text in zip(records, fast, strict=True)]
        pairs = list(zip(naive_grades, fast_grades, strict=True))
        agree = statistics.mean(a.answer == b.answer for a, b in pairs)
        answered_pairs = [(a, b) for a, b in pairs if a.answer is not None]
        agree_answered = (
            statistics.mean(a.answer == b.answer for a, b in answered_pairs)
            if answered_pairs
            else math.nan
        )
        for path, grades, rate in (
            ("naive", naive_grades, naive_rate),
            ("fast", fast_grades, fast_rate),
        ):
            accuracy = statistics.mean(g.correct for g in grades)
            answered = statistics.mean(g.answer is not None for g in grades)
            print(
                f"{path:<6} {batch_size:>5} {rate:>7.2f} {accuracy:>9.3f} {answered:>9.3f} "
                f"{agree:>6.3f} {agree_answered:>6.3f} {rate / bound:>6.0%}"
            )


def _answer(llm: LocalLLM, prompts: list[Prompt]) -> tuple[list[str], float]:
    """Greedy answers (`NAIVE_TOKENS` new tokens where free) and questions per second."""
    started = time.perf_counter()
    texts = [c.text for c in llm.generate(prompts, GenerationParams(max_new_tokens=NAIVE_TOKENS))]
    return texts, len(texts) / (time.perf_counter() - started)


def _matmul_rate(dtype: torch.dtype, size: int = 2048, repeats: int = 5) -> float:
    """FLOP/s of a large square matmul, best of `repeats`."""
    left = torch.randn(size, size).to(dtype)
    right = torch.randn(size, size).to(dtype)
    torch.matmul(left, right)
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        torch.matmul(left, right)
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best


def _json_parse_rates(loaded: LoadedModel, records: Sequence[QuestionRecord], tokens: int) -> None:
    prompts = [
        Prompt(feedback_prompt(record, _wrong_label(record)), constraint=None) for record in records
    ]
    params = GenerationParams(max_new_tokens=tokens, temperature=1.0, top_k=50, seed=0)
    first_key = '{"reason": "'
    assert FEEDBACK_SCHEMA["required"][0] == "reason"
    print(f"{len(prompts)} feedback prompts, sampled (T=1, top-k 50), {tokens} new tokens")
    print(f"{'prefill':<16} {'parsed':>7} {'s':>6}")
    for prefill in ("", "{", first_key):
        started = time.perf_counter()
        completions = generate_texts(loaded, prompts, params, 16, prefills=[prefill] * len(prompts))
        seconds = time.perf_counter() - started
        parsed = [
            parse_feedback(c.text, record).failure is None
            for c, record in zip(completions, records, strict=True)
        ]
        print(f"{prefill!r:<16} {statistics.mean(parsed):>7.2f} {seconds:>6.0f}")


def _wrong_label(record: QuestionRecord) -> str:
    return next(label for label in record.labels if label != record.target)


if __name__ == "__main__":
    main()
