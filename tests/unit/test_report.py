from pathlib import Path

import pytest

from salam.report import StrategyScores, TaskScore, format_table, plot_scores, score_by_task


def test_score_by_task_counts_each_task() -> None:
    row = score_by_task("none", ["a", "a", "b", "b", "b"], [True, False, True, True, False])
    assert row.tasks == (TaskScore("a", 1, 2), TaskScore("b", 2, 3))
    assert row.minimum == pytest.approx(50.0)
    assert row.maximum == pytest.approx(200 / 3)
    assert row.answered == 5


def test_mean_is_over_tasks_not_questions() -> None:
    # Pooled over questions this would be 91/101; the paper averages task accuracies.
    row = StrategyScores("x", (TaskScore("big", 90, 100), TaskScore("small", 1, 1)))
    assert row.mean == pytest.approx(95.0)


def test_table_lists_rows_and_tasks_when_verbose() -> None:
    rows = [
        score_by_task("none", ["a", "b"], [True, False]),
        score_by_task("feedback", ["a", "b"], [True, True]),
    ]
    table = format_table(rows, verbose=True)
    lines = table.splitlines()
    assert lines[0].split() == ["strategy", "min", "max", "mean", "questions"]
    assert lines[2].split() == ["none", "0.0", "100.0", "50.0", "2"]
    assert lines[3].split() == ["feedback", "100.0", "100.0", "100.0", "2"]
    assert any(line.split() == ["b", "0.0", "100.0"] for line in lines)


def test_empty_table_says_so() -> None:
    assert format_table([]) == "(no results)"


def test_plot_writes_a_png(tmp_path: Path) -> None:
    rows = [score_by_task("none", ["a", "b"], [True, False])]
    path = tmp_path / "plot" / "accuracy.png"
    plot_scores(rows, path, title="t")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
