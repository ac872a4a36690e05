"""`salam traces import` and `export`: training examples in and out of the database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from models import add_examples, get_examples, session_scope
from producers.training_files import ExportFormat, export_line, read_training_file
from salam.errors import DataError


@dataclass(frozen=True)
class ImportReport:
    read: int  # records in the files
    added: int  # new examples (the rest were imported before)


def import_training_files(paths: Sequence[Path]) -> ImportReport:
    """Every file is read and checked before one transaction stores them all: a bad record
    anywhere stores nothing."""
    examples = [example for path in paths for example in read_training_file(path)]
    if not examples:
        raise DataError(", ".join(str(path) for path in paths), "no training examples in it")
    with session_scope(write=True) as session:
        added = add_examples(session=session, examples=examples)
    return ImportReport(read=len(examples), added=added)


def export_examples(out: TextIO, *, run_id: int | None, export_format: ExportFormat) -> int:
    """Write the examples (all, or those gathered by `run_id`) as JSON Lines; returns how many."""
    with session_scope() as session:
        examples = get_examples(session=session, run_id=run_id)
    for example in examples:
        out.write(export_line(example, export_format) + "\n")
    return len(examples)
