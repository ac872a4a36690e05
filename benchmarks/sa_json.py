"""How often the study assistant's output parses, before and after grammar-constrained decoding.

The same mistakes (bbq-salam train questions, each answered with its first wrong option) go to
the local study assistant with the paper's sampling (temperature 1.0, top-k 50) twice:
  before  free sampling, the answer started with '{"reason": "' (the backend's old JSON prefill)
  after   the backend as it is: sampling under the feedback schema's grammar
For each: the share of outputs that give feedback (parsed, guideline present, no leak), that
are one whole {reason, guideline} object, that ran into the token cap; new tokens per output;
seconds per mistake; characters per token inside the strings (what the grammar's length bound
assumes); and how many strings reached that bound.

    .venv/bin/python benchmarks/sa_json.py --data-dir ../shared/data --mistakes 50
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from salam.assistant import parse_feedback
from salam.data import load_questions
from salam.llm.base import Completion, Constraint, GenerationParams, Prompt
from salam.llm.local import LocalLLM
from salam.llm.local_generate import generate_texts
from salam.llm.local_grammar import bounded_schema
from salam.llm.local_model import load_model
from salam.llm.model_files import locate_model
from salam.prompts import FEEDBACK_SCHEMA, feedback_prompt
from salam.records import QuestionRecord

OLD_PREFILL = '{"reason": "'


def main() -> None:
    args = _arguments()
    torch.set_num_threads(args.threads)
    mistakes = _mistakes(args.data_dir, args.mistakes)
    params = GenerationParams(
        max_new_tokens=args.max_new_tokens, temperature=1.0, top_k=50, seed=args.seed
    )
    llm = LocalLLM(args.model, device="cpu", dtype=args.dtype, batch_size=args.batch_size)
    loaded = load_model(locate_model(args.model), "cpu", args.dtype)
    print(f"{len(mistakes)} mistakes, {args.max_new_tokens} new tokens at most, batch ", end="")
    print(f"{args.batch_size}, {loaded.model.dtype}, {torch.get_num_threads()} threads")
    prompts = [Prompt(feedback_prompt(record, answer)) for record, answer in mistakes]
    schema = Constraint(json_schema=FEEDBACK_SCHEMA)
    constrained = [Prompt(prompt.text, constraint=schema) for prompt in prompts]
    llm.generate(constrained[:1], GenerationParams(max_new_tokens=4))  # one-time set-up
    started = time.perf_counter()
    before = generate_texts(
        loaded, prompts, params, args.batch_size, prefills=[OLD_PREFILL] * len(prompts)
    )
    before_seconds = time.perf_counter() - started
    started = time.perf_counter()
    after = llm.generate(constrained, params)
    after_seconds = time.perf_counter() - started
    bound = _string_bound(args.max_new_tokens)
    skeleton = _skeleton_tokens(loaded.tokenizer)
    print(f"length bound of each string under the grammar: {bound} characters\n")
    for name, completions, seconds in (
        ("before", before, before_seconds),
        ("after", after, after_seconds),
    ):
        _report(name, completions, seconds, mistakes, params, (bound, skeleton))


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="holds salam/bbq_sm/")
    parser.add_argument("--model", default="", help="GGUF path or model folder; '' = SmolLM2")
    parser.add_argument("--mistakes", type=int, default=50)
    parser.add_argument("--max-new-tokens", type=int, default=512, help="the SA default")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    return parser.parse_args()


def _mistakes(data_dir: Path | None, count: int) -> list[tuple[QuestionRecord, str]]:
    """The first train questions of each BBQ category in turn, with their first wrong option."""
    per_task = math.ceil(count / 11)
    records = load_questions("bbq-salam", data_dir=data_dir, limit=per_task)
    by_task: dict[str, list[QuestionRecord]] = {}
    for record in records:
        by_task.setdefault(record.task, []).append(record)
    interleaved = [
        task_records[index]
        for index in range(per_task)
        for task_records in by_task.values()
        if index < len(task_records)
    ]
    return [(record, _wrong_label(record)) for record in interleaved[:count]]


def _wrong_label(record: QuestionRecord) -> str:
    return next(label for label in record.labels if label != record.target)


def _string_bound(max_new_tokens: int) -> int:
    schema = bounded_schema(FEEDBACK_SCHEMA, max_new_tokens)
    return int(schema["properties"]["guideline"]["maxLength"])


def _skeleton_tokens(tokenizer: Any) -> int:
    """Tokens of the object around the strings, end-of-sequence included."""
    skeleton = json.dumps(dict.fromkeys(FEEDBACK_SCHEMA["properties"], ""))
    return len(tokenizer(skeleton, add_special_tokens=False)["input_ids"]) + 1


def _report(
    name: str,
    completions: Sequence[Completion],
    seconds: float,
    mistakes: Sequence[tuple[QuestionRecord, str]],
    params: GenerationParams,
    bound_and_skeleton: tuple[int, int],
) -> None:
    bound, skeleton = bound_and_skeleton
    parsed = [
        parse_feedback(c.text, record) for c, (record, _) in zip(completions, mistakes, strict=True)
    ]
    documents = [_document(c.text) for c in completions]
    tokens = [c.completion_tokens or 0 for c in completions]
    capped = sum(count >= params.max_new_tokens for count in tokens)
    strings = [text for document in documents if document for text in document.values()]
    per_token = [
        sum(map(len, document.values())) / (count - skeleton)
        for document, count in zip(documents, tokens, strict=True)
        if document and count > skeleton
    ]
    failures = Counter(p.failure for p in parsed if p.failure)
    print(f"{name}: feedback {_share(p.failure is None for p in parsed)}, ", end="")
    print(f"a whole feedback object {_share(d is not None for d in documents)}, ", end="")
    print(f"hit the token cap {capped}/{len(completions)}")
    print(f"  failures {dict(failures) or 'none'}")
    print(f"  tokens per output mean {statistics.mean(tokens):.1f}, max {max(tokens)}; ", end="")
    print(f"{seconds / len(completions):.2f} s per mistake ({seconds:.0f} s in all)")
    if per_token:
        mean = statistics.mean(per_token)
        print(f"  characters per token in the strings: mean {mean:.2f}, ", end="")
        print(f"min {min(per_token):.2f}; strings at the {bound}-character bound: ", end="")
        print(f"{sum(len(text) >= bound for text in strings)}/{len(strings)}")


def _document(text: str) -> dict[str, str] | None:
    """The output as one JSON object of the feedback's two strings, or None."""
    try:
        document: Any = json.loads(text)
    except ValueError:
        return None
    keys = set(FEEDBACK_SCHEMA["properties"])
    if not isinstance(document, dict) or set(document) != keys:
        return None
    if not all(isinstance(value, str) for value in document.values()):
        return None
    return document


def _share(flags: Any) -> str:
    values = list(flags)
    return f"{sum(values)}/{len(values)} ({sum(values) / len(values):.0%})"


if __name__ == "__main__":
    main()
