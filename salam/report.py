"""Accuracy tables and bar charts in the shape of the paper's: min, max and mean over tasks,
with how many questions stand behind each row, a 95 % interval, and a paired test of each
strategy against the question alone."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from salam.statistics import PairedComparison, compare_paired, wilson_interval

BASELINE = "none"


@dataclass(frozen=True)
class TaskScore:
    task: str
    correct: int
    total: int

    @property
    def accuracy(self) -> float:
        return 100.0 * self.correct / self.total if self.total else 0.0


@dataclass(frozen=True)
class StrategyScores:
    """One row of the table: a strategy (or run) scored per task."""

    label: str
    tasks: tuple[TaskScore, ...]
    # Question key -> answered right, for paired comparisons; empty when keys are unknown.
    outcomes: Mapping[str, bool] = field(default_factory=dict)

    @property
    def accuracies(self) -> list[float]:
        return [score.accuracy for score in self.tasks if score.total]

    @property
    def minimum(self) -> float:
        return min(self.accuracies, default=0.0)

    @property
    def maximum(self) -> float:
        return max(self.accuracies, default=0.0)

    @property
    def mean(self) -> float:
        """The paper's average: the mean of per-task accuracies, not pooled over questions."""
        values = self.accuracies
        return sum(values) / len(values) if values else 0.0

    @property
    def answered(self) -> int:
        return sum(score.total for score in self.tasks)

    @property
    def correct(self) -> int:
        return sum(score.correct for score in self.tasks)

    @property
    def pooled(self) -> float:
        """Accuracy (%) over all questions, the figure the interval belongs to."""
        return 100.0 * self.correct / self.answered if self.answered else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        """95 % Wilson interval of the pooled accuracy, in %."""
        low, high = wilson_interval(self.correct, self.answered)
        return 100.0 * low, 100.0 * high

    def to_dict(self) -> dict[str, object]:
        low, high = self.interval
        return {
            "label": self.label,
            "min": round(self.minimum, 2),
            "max": round(self.maximum, 2),
            "mean": round(self.mean, 2),
            "questions": self.answered,
            "correct": self.correct,
            "accuracy": round(self.pooled, 2),
            "ci95": [round(low, 2), round(high, 2)],
            "tasks": {s.task: {"correct": s.correct, "total": s.total} for s in self.tasks},
        }


def score_by_task(
    label: str,
    tasks: Sequence[str],
    correct: Sequence[bool],
    keys: Sequence[str] | None = None,
) -> StrategyScores:
    """Fold per-question outcomes (task of each question, correct or not, and the question's
    key when pairing with other rows is wanted) into a row."""
    totals: dict[str, list[int]] = {}
    for task, ok in zip(tasks, correct, strict=True):
        counts = totals.setdefault(task, [0, 0])
        counts[0] += int(ok)
        counts[1] += 1
    outcomes = dict(zip(keys, correct, strict=True)) if keys is not None else {}
    return StrategyScores(
        label,
        tuple(TaskScore(task, hits, total) for task, (hits, total) in sorted(totals.items())),
        outcomes,
    )


def paired_comparisons(
    rows: Sequence[StrategyScores], baseline: str = BASELINE
) -> list[PairedComparison]:
    """Each row against the baseline row on the questions both answered (rows without
    question keys, or sharing none with the baseline, are left out)."""
    base = next((row for row in rows if row.label == baseline and row.outcomes), None)
    if base is None:
        return []
    compared = []
    for row in rows:
        if row is base or not row.outcomes.keys() & base.outcomes.keys():
            continue
        compared.append(compare_paired(row.label, row.outcomes, base.label, base.outcomes))
    return compared


def format_table(rows: Sequence[StrategyScores], *, verbose: bool = False) -> str:
    """Min / max / mean accuracy (%) over tasks per row (the paper's columns), then n, the
    pooled accuracy and its 95 % interval; paired tests against `none` below; with
    `verbose`, every task too."""
    if not rows:
        return "(no results)"
    width = max(len("strategy"), *(len(row.label) for row in rows))
    lines = [
        f"{'strategy':<{width}}  {'min':>6}  {'max':>6}  {'mean':>6}  {'n':>6}  {'acc':>6}"
        f"  {'95% CI':>13}"
    ]
    lines.append("-" * len(lines[0]))
    for row in rows:
        low, high = row.interval
        lines.append(
            f"{row.label:<{width}}  {row.minimum:6.1f}  {row.maximum:6.1f}  {row.mean:6.1f}"
            f"  {row.answered:>6}  {row.pooled:6.1f}  {f'{low:.1f}-{high:.1f}':>13}"
        )
    lines.extend(comparison.describe() for comparison in paired_comparisons(rows))
    if verbose:
        lines.extend(["", _per_task_table(rows)])
    return "\n".join(lines)


def _per_task_table(rows: Sequence[StrategyScores]) -> str:
    tasks = sorted({score.task for row in rows for score in row.tasks})
    width = max(len("task"), *(len(task) for task in tasks))
    header = f"{'task':<{width}}" + "".join(f"  {row.label[:14]:>14}" for row in rows)
    lines = [header, "-" * len(header)]
    for task in tasks:
        cells = []
        for row in rows:
            score = next((s for s in row.tasks if s.task == task), None)
            cells.append(f"  {score.accuracy:14.1f}" if score else f"  {'-':>14}")
        lines.append(f"{task:<{width}}" + "".join(cells))
    return "\n".join(lines)


def plot_scores(rows: Sequence[StrategyScores], path: Path, *, title: str) -> None:
    """Grouped bars per task, one bar per row, with the mean as the last group (as the paper)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = sorted({score.task for row in rows for score in row.tasks})
    groups = [*tasks, "average"]
    bar_width = 0.8 / max(len(rows), 1)
    figure, axes = plt.subplots(figsize=(max(6.0, 0.9 * len(groups) + 2), 4.5))
    for position, row in enumerate(rows):
        by_task = {score.task: score.accuracy for score in row.tasks}
        heights = [by_task.get(task, 0.0) for task in tasks] + [row.mean]
        offsets = [group + position * bar_width for group in range(len(groups))]
        axes.bar(offsets, heights, width=bar_width, label=row.label)
    axes.set_xticks([group + 0.4 - bar_width / 2 for group in range(len(groups))])
    axes.set_xticklabels([_short(task) for task in groups], rotation=45, ha="right")
    axes.set_ylabel("accuracy (%)")
    axes.set_ylim(0, 100)
    axes.set_title(title)
    axes.legend(fontsize="small")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _short(task: str) -> str:
    return task if len(task) <= 22 else task[:20] + "…"
