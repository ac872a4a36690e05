"""Mistake memories of gather runs, built in the worker process from the database, kept for
the life of the process and topped up with what was written since, on every use."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
from sqlmodel import Session

from models import StoredMistake, new_first_try_correct, new_mistakes
from salam.embedding import vector_from_bytes
from salam.lifecycle import stated_answer
from salam.memory import GuidelineMemory, MemoryEntry, memory_from_settings
from salam.pipeline import correct_entry, mistake_entry
from salam.settings import get_settings
from workers import resources
from workers.records import question_record


class StoredMemory:
    """A GuidelineMemory that mirrors the rows of some gather runs."""

    def __init__(self, run_ids: Sequence[int]) -> None:
        self.run_ids = sorted(set(run_ids))
        self.memory = memory_from_settings(get_settings(), resources.embedder())
        self._known_mistakes: set[int] = set()
        self._known_correct: set[int] = set()
        self._lock = threading.Lock()

    def refresh(self, session: Session) -> GuidelineMemory:
        with self._lock:
            mistakes = new_mistakes(
                session=session, run_ids=self.run_ids, known_ids=self._known_mistakes
            )
            correct = new_first_try_correct(
                session=session, run_ids=self.run_ids, known_ids=self._known_correct
            )
            self._add_mistakes(mistakes)
            self.memory.add(
                [
                    correct_entry(question_record(question), entry_id=f"correct:{attempt_id}")
                    for attempt_id, question in correct
                ]
            )
            self._known_mistakes.update(mistake.analysis_id for mistake in mistakes)
            self._known_correct.update(attempt_id for attempt_id, _ in correct)
        return self.memory

    def _add_mistakes(self, mistakes: Sequence[StoredMistake]) -> None:
        """Guidelines embedded by the same embedder are added with their stored vectors; the
        rest (no guideline, or another embedder) are embedded now."""
        current = resources.embedder_id()
        stored = [m for m in mistakes if m.embedding is not None and m.embedder_id == current]
        stored_ids = {m.analysis_id for m in stored}
        if stored:
            vectors = np.stack([vector_from_bytes(m.embedding or b"", m.dim) for m in stored])
            self.memory.add_embedded([_entry(m) for m in stored], vectors)
        self.memory.add([_entry(m) for m in mistakes if m.analysis_id not in stored_ids])


def _entry(mistake: StoredMistake) -> MemoryEntry:
    return mistake_entry(
        question_record(mistake.question),
        stated_answer(mistake.answer, mistake.output),
        mistake.guideline,
        entry_id=f"mistake:{mistake.analysis_id}",
    )


def memory_of_runs(session: Session, run_ids: Sequence[int]) -> GuidelineMemory:
    """The process's memory of these gather runs, up to date with the database."""
    key = "memory:" + ",".join(str(run_id) for run_id in sorted(set(run_ids)))
    stored: StoredMemory = resources.cached(key, lambda: StoredMemory(run_ids))
    return stored.refresh(session)
