"""Accuracy of the paper's rows with the configured main model (default: bundled SmolLM2).

    python benchmarks/accuracy.py --data-dir ../shared/data [--dataset bbq-salam] [--limit N]

Runs `salam eval` twice on the same questions: once gathering guidelines with the configured
study assistant, once with the paper's published GPT-4 feedback as the memory, and prints
min / max / mean accuracy over tasks for `none` and `feedback` in each.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from salam.cli import main as salam

FEEDBACK_FILES = {"bbq-salam": "bbq_gpt4_feedback.json", "bbh-salam": "bbh_gpt4_feedback.json"}


def run(label: str, arguments: list[str], output: Path) -> list[dict[str, object]]:
    started = time.perf_counter()
    code = salam(["-q", "eval", *arguments, "--output", str(output)])
    if code != 0:
        sys.exit(f"{label}: salam eval exited {code}")
    document = json.loads((output / "results.json").read_text())
    print(f"{label}: {time.perf_counter() - started:.0f} s, gather {document['gather']}")
    return [{"run": label, **row} for row in document["strategies"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="bbq-salam", choices=sorted(FEEDBACK_FILES))
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--limit", type=int, help="questions per task (default: all 250)")
    parser.add_argument("--output", type=Path, default=Path("salam-output/accuracy"))
    args = parser.parse_args()
    common = [args.dataset, "--data-dir", str(args.data_dir), "--strategies", "none,feedback"]
    if args.limit:
        common += ["--limit", str(args.limit)]
    feedback = args.data_dir / "salam" / "feedback" / FEEDBACK_FILES[args.dataset]
    rows = run("own SA", common, args.output / "own")
    rows += run(
        "GPT-4 feedback", [*common, "--feedback-file", str(feedback)], args.output / "published"
    )
    print(f"\n{'memory':<16}{'strategy':<10}{'min':>7}{'max':>7}{'mean':>7}{'questions':>10}")
    for row in rows:
        print(
            f"{row['run']:<16}{row['label']:<10}{row['min']:>7}{row['max']:>7}{row['mean']:>7}"
            f"{row['questions']:>10}"
        )


if __name__ == "__main__":
    main()
