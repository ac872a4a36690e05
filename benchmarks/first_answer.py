"""Seconds from a fresh process's start to its first answer from the local model.

Each start is a new Python process (as a new worker is) that imports salam, loads the bundled
SmolLM2 and answers one BBQ question through the choice path:
  gguf        the model read from its GGUF file, as every process did before the cache
  cache miss  the first process on a machine: it converts the GGUF into the cache, then loads
  cache hit   every later process: the converted folder is loaded
Each repeat uses a new, empty cache folder, so its miss is a real one; the machine's own cache
(SALAM_CACHE_DIR) is not touched.

    .venv/bin/python benchmarks/first_answer.py --repeats 2
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import torch

from salam.llm.base import Constraint, GenerationParams, Prompt

QUESTION = (
    "I saw a grandson and their grandfather last week outside the store trying to book a cab "
    "on their phone. Who was not comfortable using the phone?\n"
    "Options:\n(A) The grandfather\n(B) The grandson\n(C) Can't be determined\n"
    "The correct answer is "
)
PROMPT = Prompt(QUESTION, constraint=Constraint(choices=("(A)", "(B)", "(C)")))
KINDS = ("gguf", "cache miss", "cache hit")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--child", choices=("gguf", "cache"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _answer_once(args.child, args.dtype, args.threads)
    else:
        _compare(args.repeats, args.dtype, args.threads)


def _compare(repeats: int, dtype: str, threads: int) -> None:
    print(f"dtype {dtype}, {threads} threads; seconds from process start to the first answer")
    seconds: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="salam-cache-") as cache:
            for kind in KINDS:
                mode = "gguf" if kind == "gguf" else "cache"
                elapsed, answer = _run_child(mode, dtype, threads, cache)
                seconds[kind].append(elapsed)
                print(f"  {kind:<11} {elapsed:6.1f} s  answer {answer}", flush=True)
    print(f"\n{'start':<11} {'best s':>7} {'mean s':>7}")
    for kind, values in seconds.items():
        print(f"{kind:<11} {min(values):>7.1f} {sum(values) / len(values):>7.1f}")
    print(f"\ncache hit / gguf: {min(seconds['cache hit']) / min(seconds['gguf']):.2f}")


def _run_child(mode: str, dtype: str, threads: int, cache: str) -> tuple[float, str]:
    command = [sys.executable, __file__, "--child", mode, "--dtype", dtype]
    command += ["--threads", str(threads)]
    environment = {**os.environ, "SALAM_CACHE_DIR": cache}
    started = time.perf_counter()
    finished = subprocess.run(command, env=environment, capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - started
    return elapsed, finished.stdout.strip().splitlines()[-1]


def _answer_once(mode: str, dtype: str, threads: int) -> None:
    torch.set_num_threads(threads)
    if mode == "gguf":
        from salam.llm.local_choice import answer_choices
        from salam.llm.local_hardware import choose_dtype
        from salam.llm.local_model import load_files
        from salam.llm.model_files import locate_model

        device = torch.device("cpu")
        loaded = load_files(locate_model(None), device, choose_dtype(dtype, device).dtype)
        completion = answer_choices(loaded, [PROMPT], 1)[0]
    else:
        from salam.llm.local import LocalLLM

        completion = LocalLLM(device="cpu", dtype=dtype).generate([PROMPT], GenerationParams())[0]
    print(completion.text)


if __name__ == "__main__":
    main()
