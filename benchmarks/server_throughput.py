"""Questions per second through an OpenAI-compatible server vs the in-process `local` backend.

Starts llama-cpp-python's server on the bundled SmolLM2-135M GGUF (or uses `--url`), answers
the same multiple-choice questions through the `openai` backend at several request
concurrencies, with and without answer constraints, then through `LocalLLM`, and prints one
table: questions/s, the ratio to the local backend, the share of answers an option could be
extracted from, and the share that were right.

    python benchmarks/server_throughput.py --questions 32
    python benchmarks/server_throughput.py --url http://127.0.0.1:8000 --concurrency 1 8

Needs `pip install -e '.[server-tests]'` unless `--url` is given. Questions: the paper's BBQ
sample from SALAM_TEST_SHARED_DATA / ../shared/data when present, else the generated
benchmark.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2

from salam.data.loader import load_questions
from salam.grading import extract_choice, target_label
from salam.llm.base import LLM, GenerationParams, Prompt
from salam.llm.http import Endpoint, RetryPolicy
from salam.llm.model_files import bundled_model
from salam.llm.openai_compat import OpenAICompatLLM
from salam.prompts import answer_constraint, exam_prompt
from salam.records import QuestionRecord

PARAMS = GenerationParams(max_new_tokens=50)  # the paper's main-model decoding: greedy, <= 50


@dataclass(frozen=True)
class Row:
    backend: str
    constrained: bool
    concurrency: int | None
    seconds: float
    parsed: float
    correct: float
    questions: int

    @property
    def per_second(self) -> float:
        return self.questions / self.seconds


def main() -> None:
    # SIGTERM as an exception, so that the server this script started is stopped with it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args = parse_args()
    questions = benchmark_questions(args.questions)
    print(f"{len(questions)} questions ({questions[0].benchmark}), greedy, <= 50 new tokens")
    with server_url(args.url, threads=args.threads) as url:
        rows = [
            measure(server_llm(url, concurrency, constrain), questions, constrain, concurrency)
            for constrain in (True, False)
            for concurrency in args.concurrency
        ]
    rows += local_rows(questions, batch_size=args.batch_size)
    print(format_table(rows))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=32, help="how many questions")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--url", help="an OpenAI-compatible server already running")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--batch-size", type=int, default=16, help="local backend batch")
    return parser.parse_args()


def benchmark_questions(count: int) -> list[QuestionRecord]:
    shared = os.environ.get("SALAM_TEST_SHARED_DATA")
    folder = Path(shared) if shared else Path(__file__).resolve().parents[2] / "shared" / "data"
    if (folder / "salam" / "bbq_sm").is_dir():
        questions = load_questions("bbq-sm", data_dir=folder)
    else:
        questions = load_questions("generated")
    # Round-robin over tasks so a small sample still mixes them.
    by_task: dict[str, list[QuestionRecord]] = {}
    for question in questions:
        by_task.setdefault(question.task, []).append(question)
    mixed = [q for group in zip(*by_task.values(), strict=False) for q in group]
    return mixed[:count]


def prompts_for(questions: Sequence[QuestionRecord], constrain: bool) -> list[Prompt]:
    return [
        Prompt(exam_prompt(q), constraint=answer_constraint(q) if constrain else None)
        for q in questions
    ]


def measure(
    llm: LLM, questions: Sequence[QuestionRecord], constrain: bool, concurrency: int | None
) -> Row:
    prompts = prompts_for(questions, constrain)
    llm.generate(prompts[:1], PARAMS)  # warm-up: model load, first connection
    started = time.perf_counter()
    completions = llm.generate(prompts, PARAMS)
    seconds = time.perf_counter() - started
    choices = [extract_choice(c.text, q) for c, q in zip(completions, questions, strict=True)]
    right = sum(
        c is not None and c == target_label(q) for c, q in zip(choices, questions, strict=True)
    )
    row = Row(
        backend=llm.name,
        constrained=constrain,
        concurrency=concurrency,
        seconds=seconds,
        parsed=sum(c is not None for c in choices) / len(questions),
        correct=right / len(questions),
        questions=len(questions),
    )
    # Progress as it goes: a whole run takes minutes on a CPU.
    print(
        f"  {row.backend}, constrained={constrain}, concurrency={concurrency}: "
        f"{row.per_second:.2f} questions/s",
        file=sys.stderr,
    )
    return row


def server_llm(url: str, concurrency: int, constrain: bool) -> OpenAICompatLLM:
    endpoint = Endpoint(url, timeout_s=600, concurrency=concurrency, retry=RetryPolicy(retries=1))
    return OpenAICompatLLM(endpoint, constraint_style="auto" if constrain else "none")


def local_rows(questions: Sequence[QuestionRecord], *, batch_size: int) -> list[Row]:
    try:
        from salam.llm.local import LocalLLM
    except ImportError as err:
        print(f"local backend unavailable, its rows are left out: {err}")
        return []
    llm = LocalLLM(None, device="cpu", dtype="float32", batch_size=batch_size)
    return [measure(llm, questions, constrain, None) for constrain in (True, False)]


def format_table(rows: Sequence[Row]) -> str:
    local = {row.constrained: row for row in rows if row.backend == "local"}
    header = "backend  constrained  concurrency  questions/s  vs local  parsed  correct"
    lines = [header, "-" * len(header)]
    for row in rows:
        baseline = local.get(row.constrained)
        ratio = f"{row.per_second / baseline.per_second:7.2f}x" if baseline else "       -"
        lines.append(
            f"{row.backend:<8} {'yes' if row.constrained else 'no':<12} "
            f"{row.concurrency if row.concurrency else '-':<12} {row.per_second:>11.2f}  "
            f"{ratio}  {row.parsed:>6.0%}  {row.correct:>7.0%}"
        )
    return "\n".join(lines)


@contextmanager
def server_url(url: str | None, *, threads: int) -> Iterator[str]:
    """`url` as given, else a llama-cpp-python server started for the benchmark."""
    if url:
        yield url
        return
    files = bundled_model()
    model = files.folder / (files.gguf_file or "")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048"]
    command += ["--n_threads", str(threads)]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            started_url = f"http://127.0.0.1:{port}"
            wait_for_models(started_url, process)
            yield started_url
        finally:
            process.terminate()
            process.wait(timeout=30)


def wait_for_models(url: str, process: subprocess.Popen[bytes], timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"llama_cpp.server exited ({process.returncode}); is it installed?")
        try:
            if httpx2.get(url + "/v1/models", timeout=2).status_code == 200:
                return
        except httpx2.TransportError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"llama_cpp.server not ready after {timeout_s:.0f} s")


if __name__ == "__main__":
    main()
