"""Accuracy of the paper's rows with the configured main model (default: bundled SmolLM2).

    python benchmarks/accuracy.py --data-dir ../shared/data [--dataset bbq-salam] [--limit N]
        [--strategies none,feedback,feedback_only,mistake] [--published-only]

Runs `salam eval` on the same test questions: once gathering guidelines with the configured
study assistant (left out with --published-only), once with the paper's published GPT-4
feedback as the memory, and prints min / max / mean accuracy over tasks, n and the 95 %
interval per strategy, each strategy against `none` (McNemar's exact test), and per task the
questions each strategy got right next to what guessing would get.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from salam.cli import main as salam
from salam.data import load_split
from salam.records import QuestionRecord

FEEDBACK_FILES = {"bbq-salam": "bbq_gpt4_feedback.json", "bbh-salam": "bbh_gpt4_feedback.json"}


def run(label: str, arguments: list[str], output: Path) -> list[dict[str, Any]]:
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


def print_tasks(rows: list[dict[str, Any]], test: list[QuestionRecord]) -> None:
    """Per task: guessing's expected accuracy, and the questions each strategy got right; then
    the tasks where no strategy moved more than one question away from `none`."""
    chance = _chance_by_task(test)
    for memory in dict.fromkeys(row["run"] for row in rows):
        scores = {row["label"]: row["tasks"] for row in rows if row["run"] == memory}
        print(f"\n{memory}: right answers per task")
        print(f"{'task':<42}{'guess %':>8}" + "".join(f"{label:>14}" for label in scores))
        for task in sorted(chance):
            counts = "".join(f"{_right(s[task]):>14}" for s in scores.values())
            print(f"{task:<42}{chance[task]:>8.1f}{counts}")
        print(f"guessing, mean over tasks: {sum(chance.values()) / len(chance):.1f} %")
        if "none" in scores:
            steady = [
                task
                for task in chance
                if all(
                    abs(s[task]["correct"] - scores["none"][task]["correct"]) <= 1
                    for s in scores.values()
                )
            ]
            print(f"tasks where every strategy is within one question of none: {len(steady)}")


def _right(score: dict[str, int]) -> str:
    return f"{score['correct']}/{score['total']}"


def _chance_by_task(questions: list[QuestionRecord]) -> dict[str, float]:
    """Per task, the accuracy (%) of a uniform guess among each question's options."""
    guesses: dict[str, list[float]] = {}
    for question in questions:
        if question.options:
            guesses.setdefault(question.task, []).append(100 / len(question.options))
    return {task: sum(values) / len(values) for task, values in guesses.items()}


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
        low, high = row["ci95"]
        print(
            f"{row['run']:<16}{row['label']:<14}{row['min']:>7}{row['max']:>7}{row['mean']:>7}"
            f"{row['questions']:>6}{row['accuracy']:>7}{f'{low}-{high}':>14}"
        )
    print_tasks(rows, load_split(args.dataset, data_dir=args.data_dir, limit=args.limit).test)


if __name__ == "__main__":
    main()
