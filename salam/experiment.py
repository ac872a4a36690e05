"""`salam eval` as a library call: gather (or take published guidelines), examine under each
strategy, and the report of what was found."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from salam.data.splits import Split
from salam.evaluation import (
    ExamResult,
    GatherSummary,
    Models,
    Progress,
    examine,
    gather,
    no_progress,
)
from salam.memory import GuidelineMemory, MemoryEntry
from salam.pipeline import AnswerResult
from salam.prompts import PROMPT_VERSION
from salam.report import StrategyScores, format_table, paired_comparisons, plot_scores
from salam.strategies import Strategy


@dataclass
class EvalReport:
    """Everything `salam eval` found: the gather summary, one exam per strategy, and what
    produced them. `to_dict()` is results.json; `table()` and `plot()` are what a person reads."""

    dataset: str
    main_model: str
    assistant_model: str | None
    train_questions: int
    test_questions: int
    exams: list[ExamResult]
    gather: GatherSummary | None = None
    published_guidelines: int = 0
    seconds: float = 0.0
    settings: dict[str, object] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return f"{self.dataset}: {self.main_model}"

    @property
    def rows(self) -> list[StrategyScores]:
        return [exam.scores for exam in self.exams]

    def table(self, *, verbose: bool = False) -> str:
        lines = [self.title]
        if self.gather is not None:
            lines.append(self.gather.describe())
        lines.append(format_table(self.rows, verbose=verbose))
        return "\n".join(lines)

    def plot(self, path: Path) -> None:
        plot_scores(self.rows, path, title=self.title)

    def to_dict(self) -> dict[str, object]:
        return {
            "dataset": self.dataset,
            "train_questions": self.train_questions,
            "test_questions": self.test_questions,
            "main_model": self.main_model,
            "assistant_model": self.assistant_model,
            "prompt_version": PROMPT_VERSION,
            "published_guidelines": self.published_guidelines,
            "settings": self.settings,
            "seconds": round(self.seconds, 1),
            "gather": self.gather.to_dict() if self.gather else None,
            "strategies": [exam.scores.to_dict() for exam in self.exams],
            "comparisons": [c.to_dict() for c in paired_comparisons(self.rows)],
            "answers": {
                exam.strategy: [_answer_dict(r) for r in exam.results] for exam in self.exams
            },
        }


def _answer_dict(result: AnswerResult) -> dict[str, object]:
    return {
        "id": result.question_id,
        "answer": result.answer,
        "correct": result.correct,
        "output": result.output,
        "error": result.error,
        "memory": list(result.source_ids),
    }


@dataclass(frozen=True)
class EvalOptions:
    """How `evaluate` runs: retries per mistake, chunk size, constrained answers."""

    iterations: int = 1
    chunk_size: int = 32
    constrain: bool = True


def evaluate(
    dataset: str,
    split: Split,
    strategies: Sequence[Strategy],
    models: Models,
    memory: GuidelineMemory,
    *,
    published: Sequence[MemoryEntry] = (),
    options: EvalOptions = EvalOptions(),
    progress: Progress = no_progress,
) -> EvalReport:
    """Gather on the train split (or take the published guidelines), then examine the test
    split under each strategy."""
    started = time.perf_counter()
    summary = None
    if published:
        memory.add(published)
    else:
        summary = gather(
            split.train,
            models,
            memory,
            iterations=options.iterations,
            chunk_size=options.chunk_size,
            constrain=options.constrain,
            progress=progress,
        )
    exams = [
        examine(
            split.test,
            strategy,
            models,
            memory,
            chunk_size=options.chunk_size,
            constrain=options.constrain,
            progress=progress,
        )
        for strategy in strategies
    ]
    return EvalReport(
        dataset=dataset,
        main_model=models.main.model_id,
        assistant_model=models.assistant.model_id if models.assistant else None,
        train_questions=len(split.train),
        test_questions=len(split.test),
        exams=exams,
        gather=summary,
        published_guidelines=len(published),
        seconds=time.perf_counter() - started,
    )
