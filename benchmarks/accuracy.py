"""Accuracy of the paper's rows with the configured main model (default: bundled SmolLM2).

    python benchmarks/accuracy.py --data-dir ../shared/data [--dataset bbq-salam] [--limit N]
        [--strategies none,feedback,feedback_only,mistake] [--published-only]

Runs `salam eval` on the same test questions: once gathering guidelines with the configured
study assistant (left out with --published-only), once with the paper's published GPT-4
feedback as the memory, and prints min / max / mean accuracy over tasks, n and the 95 %
interval per strategy, and each strategy against `none` (McNemar's exact test).
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
    gather = document["gather"]
    if gather:
        gather = {k: v for k, v in gather.items() if k != "question_outcomes"}
    print(f"{label}: {time.perf_counter() - started:.0f} s, gather {gather}")
    for comparison in document["comparisons"]:
        verdict = "within noise" if comparison["within_noise"] else "p < 0.05"
        print(
            f"  {comparison['a']} vs {comparison['b']}: +{comparison['only_a']} "
            f"-{comparison['only_b']} of {comparison['questions']}, "
            f"p = {comparison['p_value']:.3g} ({verdict})"
        )
    return [{"run": label, **row} for row in document["strategies"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="bbq-salam", choices=sorted(FEEDBACK_FILES))
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--limit", type=int, help="questions per task (default: all 250)")
    parser.add_argument("--output", type=Path, default=Path("salam-output/accuracy"))
    parser.add_argument("--strategies", default="none,feedback")
    parser.add_argument(
        "--published-only", action="store_true", help="only the GPT-4 feedback memory"
    )
    args = parser.parse_args()
    common = [args.dataset, "--data-dir", str(args.data_dir), "--strategies", args.strategies]
    if args.limit:
        common += ["--limit", str(args.limit)]
    feedback = args.data_dir / "salam" / "feedback" / FEEDBACK_FILES[args.dataset]
    rows = [] if args.published_only else run("own SA", common, args.output / "own")
    rows += run(
        "GPT-4 feedback", [*common, "--feedback-file", str(feedback)], args.output / "published"
    )
    print(
        f"\n{'memory':<16}{'strategy':<14}{'min':>7}{'max':>7}{'mean':>7}{'n':>6}"
        f"{'acc':>7}{'95% CI':>14}"
    )
    for row in rows:
        low, high = row["ci95"]  # type: ignore[misc]
        print(
            f"{row['run']:<16}{row['label']:<14}{row['min']:>7}{row['max']:>7}{row['mean']:>7}"
            f"{row['questions']:>6}{row['accuracy']:>7}{f'{low}-{high}':>14}"
        )


if __name__ == "__main__":
    main()
