"""Questions per second of the local backend on BBQ, in fp32 and bf16, against the hardware.

Two ways to answer a multiple-choice exam prompt ("...\\nThe correct answer is "):
  naive  free greedy generation of 8 tokens, then the grader reads the option from the text
  fast   the choice constraint: one forward pass per batch, the option picked from the logits
Both in each dtype at each batch size, with accuracy, agreement with the naive path (agree*:
only where the naive output names an option) and agreement of each dtype's fast answers with
fp32's, against each dtype's prefill bound: its measured matmul rate divided by the work of one
question's prompt (2 x parameters x tokens); the fast path can pass it, because it does not
run the shared chat-template head again. The dtypes take turns at each batch size, so a
machine shared with other jobs slows both alike.

    .venv/bin/python benchmarks/local_throughput.py --data-dir ../shared/data --questions 256
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from salam.data import load_questions
from salam.grading import Grade, grade
from salam.llm.base import Constraint, GenerationParams, Prompt
from salam.llm.local import LocalLLM
from salam.llm.local_hardware import DTYPES, choose_dtype, cpu_bf16_feature
from salam.llm.local_model import load_model
from salam.llm.local_template import encode_prompt
from salam.llm.model_files import locate_model
from salam.prompts import exam_prompt
from salam.records import QuestionRecord

# SmolLM2 mostly answers "The correct answer is (B)": seven tokens. Six, the first choice for this
# benchmark, cut the label to "(B", which no grader should read as an answer.
NAIVE_TOKENS = 8


@dataclass(frozen=True)
class Run:
    dtype: str
    path: str
    batch_size: int
    rate: float
    grades: list[Grade]


def main() -> None:
    args = _arguments()
    torch.set_num_threads(args.threads)
    per_task = math.ceil(args.questions / 11)
    records = load_questions("bbq-salam", data_dir=args.data_dir, limit=per_task)
    records = records[: args.questions]
    dtypes = args.dtypes.split(",")
    bounds = _describe(args, records, dtypes)
    dtypes = _worth_measuring(bounds)
    print(
        f"\n{'dtype':<9} {'path':<6} {'batch':>5} {'q/s':>7} {'accuracy':>9} {'answered':>9} ",
        end="",
    )
    print(f"{'agree':>6} {'agree*':>6} {'=fp32':>6} {'bound':>6}")
    for batch_size in (int(size) for size in args.batch_sizes.split(",")):
        runs = [run for dtype in dtypes for run in _measure(args, records, dtype, batch_size)]
        for run in runs:
            _print_run(run, runs, bounds[run.dtype])


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="holds salam/bbq_sm/")
    parser.add_argument("--model", default="", help="GGUF path or model folder; '' = SmolLM2")
    parser.add_argument("--questions", type=int, default=256)
    parser.add_argument("--batch-sizes", default="8")
    parser.add_argument("--dtypes", default="float32,bfloat16", help=f"of {', '.join(DTYPES)}")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    return parser.parse_args()


def _describe(
    args: argparse.Namespace, records: list[QuestionRecord], dtypes: list[str]
) -> dict[str, float]:
    """Print the set-up and each dtype's prefill bound (questions/s); return the bounds."""
    loaded = load_model(locate_model(args.model), "cpu", dtypes[0])
    tokens = statistics.mean(len(encode_prompt(loaded, Prompt(exam_prompt(r)))) for r in records)
    parameters = sum(p.numel() for p in loaded.model.parameters())
    print(f"{len(records)} BBQ questions, mean prompt {tokens:.1f} tokens (chat template)")
    print(f"threads {torch.get_num_threads()}, parameters {parameters / 1e6:.1f} M")
    print(f"CPU bf16 instructions: {cpu_bf16_feature() or 'none'}")
    print(f"SALAM_DTYPE=auto picks {choose_dtype('auto', torch.device('cpu'))}")
    bounds = {}
    for dtype in dtypes:
        rate = _matmul_rate(DTYPES[dtype])
        bounds[dtype] = rate / (2 * parameters * tokens)
        print(
            f"{dtype:<9} matmul {rate / 1e9:7.1f} GFLOP/s, prefill bound {bounds[dtype]:6.2f} q/s"
        )
    return bounds


def _worth_measuring(bounds: dict[str, float]) -> list[str]:
    """The dtypes within 10x of the fastest: one that this CPU emulates (bf16 without AVX512-BF16
    or AMX: 111x slower than fp32 on an AVX2-only EPYC) would take hours and is never `auto`."""
    fastest = max(bounds.values())
    for dtype, bound in bounds.items():
        if bound < fastest / 10:
            print(f"{dtype}: {fastest / bound:.0f}x slower than the fastest dtype here; not run")
    return [dtype for dtype, bound in bounds.items() if bound >= fastest / 10]


def _measure(
    args: argparse.Namespace, records: list[QuestionRecord], dtype: str, batch_size: int
) -> list[Run]:
    free = [Prompt(exam_prompt(record)) for record in records]
    constrained = [
        Prompt(exam_prompt(record), constraint=Constraint(choices=record.labels))
        for record in records
    ]
    llm = LocalLLM(args.model, device="cpu", dtype=dtype, batch_size=batch_size)
    # one-time work outside the timing: choice plans, the shared head, generate's first call
    llm.generate(constrained[:2], GenerationParams())
    llm.generate(free[:2], GenerationParams(max_new_tokens=NAIVE_TOKENS))
    runs = []
    for path, prompts in (("naive", free), ("fast", constrained)):
        texts, rate = _answer(llm, prompts)
        grades = [grade(record, text) for record, text in zip(records, texts, strict=True)]
        runs.append(Run(dtype, path, batch_size, rate, grades))
    return runs


def _answer(llm: LocalLLM, prompts: list[Prompt]) -> tuple[list[str], float]:
    """Greedy answers (`NAIVE_TOKENS` new tokens where free) and questions per second."""
    started = time.perf_counter()
    texts = [c.text for c in llm.generate(prompts, GenerationParams(max_new_tokens=NAIVE_TOKENS))]
    return texts, len(texts) / (time.perf_counter() - started)


def _print_run(run: Run, runs: list[Run], bound: float) -> None:
    naive = next(r for r in runs if r.dtype == run.dtype and r.path == "naive")
    fp32 = next((r for r in runs if r.dtype == "float32" and r.path == run.path), None)
    accuracy = statistics.mean(g.correct for g in run.grades)
    answered = statistics.mean(g.answer is not None for g in run.grades)
    agree = _agreement(naive.grades, run.grades)
    agree_answered = _agreement(naive.grades, run.grades, only_answered=True)
    same_as_fp32 = _agreement(fp32.grades, run.grades) if fp32 else math.nan
    print(
        f"{run.dtype:<9} {run.path:<6} {run.batch_size:>5} {run.rate:>7.2f} {accuracy:>9.3f} "
        f"{answered:>9.3f} {agree:>6.3f} {agree_answered:>6.3f} {same_as_fp32:>6.3f} "
        f"{run.rate / bound:>6.0%}"
    )


def _agreement(first: list[Grade], second: list[Grade], *, only_answered: bool = False) -> float:
    pairs = [
        (a, b)
        for a, b in zip(first, second, strict=True)
        if not only_answered or a.answer is not None
    ]
    return statistics.mean(a.answer == b.answer for a, b in pairs) if pairs else math.nan


def _matmul_rate(dtype: torch.dtype, size: int = 2048, repeats: int = 5) -> float:
    """FLOP/s of a large square matmul, best of `repeats`; a dtype this CPU emulates is timed
    on a small one (a 2048 matmul would take minutes)."""
    if size > 512:
        probe = _matmul_rate(dtype, 512, repeats=2)
        if probe < 5e9:
            return probe
    left = torch.randn(size, size).to(dtype)
    right = torch.randn(size, size).to(dtype)
    torch.matmul(left, right)
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        torch.matmul(left, right)
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best


if __name__ == "__main__":
    main()
