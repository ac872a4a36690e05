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
    assert lines[0].split() == ["strategy", "min", "max", "mean", "n", "acc", "95%", "CI"]
    assert lines[2].split() == ["none", "0.0", "100.0", "50.0", "2", "50.0", "9.5-90.5"]
    assert lines[3].split() == ["feedback", "100.0", "100.0", "100.0", "2", "100.0", "34.2-100.0"]
    assert any(line.split() == ["b", "0.0", "100.0"] for line in lines)


def test_rows_with_question_keys_are_tested_against_none_and_the_verdict_is_plain() -> None:
    keys = [f"q{i}" for i in range(20)]
    tasks = ["a"] * 20
    none = score_by_task("none", tasks, [i < 5 for i in range(20)], keys)
    # Right on 10 more questions and wrong on none that `none` got: far from chance.
    feedback = score_by_task("feedback", tasks, [i < 15 for i in range(20)], keys)
    # One question flipped each way: no evidence of any difference.
    mistake = score_by_task("mistake", tasks, [0 < i < 6 for i in range(20)], keys)
    table = format_table([none, feedback, mistake])
    assert "feedback vs none on 20 shared questions: 10 right only with feedback, 0 right" in table
    assert "p = 0.00195: a real difference at p < 0.05" in table
    assert "mistake vs none on 20 shared questions: 1 right only with mistake, 1 right" in table
    assert "p = 1: within noise (p >= 0.05)" in table


def test_rows_without_keys_get_no_paired_test() -> None:
    rows = [score_by_task("none", ["a"], [True]), score_by_task("feedback", ["a"], [False])]
    assert "McNemar" not in format_table(rows)


def test_to_dict_carries_n_accuracy_and_interval() -> None:
    row = score_by_task("none", ["a"] * 10, [i < 8 for i in range(10)])
    document = row.to_dict()
    assert (document["questions"], document["correct"], document["accuracy"]) == (10, 8, 80.0)
    assert document["ci95"] == [49.02, 94.33]


def test_empty_table_says_so() -> None:
    assert format_table([]) == "(no results)"


def test_plot_writes_a_png(tmp_path: Path) -> None:
    rows = [score_by_task("none", ["a", "b"], [True, False])]
    path = tmp_path / "plot" / "accuracy.png"
    plot_scores(rows, path, title="t")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
