"""Rows to the plain records the method works on (the edge between `models` and `salam`)."""

from __future__ import annotations

from models import Analysis, Question
from salam.pipeline import AnalysisResult
from salam.records import QuestionRecord


def question_record(row: Question) -> QuestionRecord:
    return QuestionRecord(
        id=row.qid,
        benchmark=row.benchmark,
        task=row.task,
        index=row.index,
        prompt=row.prompt,
        target=row.target,
        options=tuple(row.options),
        meta=dict(row.meta),
    )


def analysis_result(row: Analysis, question: Question) -> AnalysisResult:
    return AnalysisResult(
        question_id=question.qid,
        prompt=row.prompt,
        output=row.output,
        reason=row.reason,
        guideline=row.guideline,
        failure=row.failure,
        detail=row.detail,
    )
