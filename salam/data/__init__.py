"""Benchmark questions: loaders for BBH, BBQ and generic files, a generated benchmark,
named datasets and presets, and the paper's per-task train/test split."""

from __future__ import annotations

from salam.data.bbh import BBH_SALAM_TASKS, BBH_TASKS
from salam.data.bbq import BBQ_CATEGORIES
from salam.data.generated import GENERATED_TASKS, generate_benchmark
from salam.data.loader import load_questions, load_split
from salam.data.registry import DEFAULT_DATASET, describe_datasets
from salam.data.splits import SPLIT_NAMES, Split, SplitName, first_per_task, split_questions
from salam.records import QuestionRecord, make_id

__all__ = [
    "BBH_SALAM_TASKS",
    "BBH_TASKS",
    "BBQ_CATEGORIES",
    "DEFAULT_DATASET",
    "GENERATED_TASKS",
    "SPLIT_NAMES",
    "QuestionRecord",
    "Split",
    "SplitName",
    "describe_datasets",
    "first_per_task",
    "generate_benchmark",
    "load_questions",
    "load_split",
    "make_id",
    "split_questions",
]
