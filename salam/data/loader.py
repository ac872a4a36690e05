"""`load_questions`: one entry point for presets, named datasets and paths."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from salam.data.drafts import Draft, number_drafts
from salam.data.formats import read_path_drafts
from salam.data.generated import generate_benchmark
from salam.data.hub import HubUnavailable, fetch_rows
from salam.data.registry import FILE_DATASETS, GENERATED, PRESETS, FileDataset, known_names
from salam.data.splits import Split, split_questions
from salam.errors import ConfigError, DataError
from salam.records import QuestionRecord
from salam.settings import get_settings

log = logging.getLogger(__name__)

GENERATED_PER_TASK = 50
QUESTION_LIMIT_SETTING = "SALAM_MAX_QUESTIONS"
FIX = "set SALAM_DATA_DIR (or --data-dir) to a folder holding them"


def load_questions(
    spec: str,
    *,
    data_dir: Path | None = None,
    tasks: Sequence[str] | None = None,
    limit: int | None = None,
    seed: int = 0,
) -> list[QuestionRecord]:
    """Questions of a preset, a named dataset or a file/folder, in dataset order.

    `tasks` keeps only those tasks; `limit` keeps the first `limit` questions of each task.
    `data_dir` (default: the SALAM_DATA_DIR setting) is where named datasets are looked for
    before the HF hub. `seed` only changes the generated benchmark. Files are read within the
    SALAM_MAX_INPUT_BYTES and SALAM_MAX_QUESTIONS limits.
    """
    if limit is not None and limit < 1:
        raise ConfigError(f"limit must be at least 1, got {limit}")
    if spec == GENERATED:
        questions = _generated(tasks, limit, seed)
    elif spec in PRESETS:
        preset = PRESETS[spec]
        dataset = FILE_DATASETS[preset.dataset]
        questions = _named(spec, dataset, _select(spec, preset.tasks, tasks), data_dir)
    elif spec in FILE_DATASETS:
        dataset = FILE_DATASETS[spec]
        questions = _named(spec, dataset, _select(spec, dataset.tasks, tasks), data_dir)
    else:
        questions = _from_path(spec, tasks)
    if limit is not None:
        questions = [question for question in questions if question.index < limit]
    return questions


def _select(spec: str, known: Sequence[str], requested: Sequence[str] | None) -> tuple[str, ...]:
    """The requested tasks in the dataset's order; all of them when none are requested."""
    if requested is None:
        return tuple(known)
    unknown = [task for task in dict.fromkeys(requested) if task not in known]
    if unknown:
        problem = f"unknown task {', '.join(unknown)}; known tasks: {', '.join(known)}"
        raise DataError(spec, problem)
    return tuple(task for task in known if task in requested)


def _generated(tasks: Sequence[str] | None, limit: int | None, seed: int) -> list[QuestionRecord]:
    questions = generate_benchmark(seed=seed, per_task=limit or GENERATED_PER_TASK)
    known = list(dict.fromkeys(question.task for question in questions))
    chosen = _select(GENERATED, known, tasks)
    return [question for question in questions if question.task in chosen]


def _from_path(spec: str, tasks: Sequence[str] | None) -> list[QuestionRecord]:
    path = Path(spec).expanduser()
    if not path.exists():
        problem = f"no such file or folder, nor a dataset name ({', '.join(known_names())})"
        raise DataError(spec, problem)
    settings = get_settings()
    drafts = read_path_drafts(path, settings.max_input_bytes)
    questions = number_drafts(within_question_limit(drafts, spec, settings.max_questions))
    known = list(dict.fromkeys(question.task for question in questions))
    chosen = _select(spec, known, tasks)
    return [question for question in questions if question.task in chosen]


def _named(
    spec: str, dataset: FileDataset, tasks: tuple[str, ...], data_dir: Path | None
) -> list[QuestionRecord]:
    settings = get_settings()
    folder = data_dir if data_dir is not None else settings.data_dir
    if folder is not None and not folder.is_dir():
        raise DataError(str(folder), "the data folder does not exist")
    found = {task: path for task in tasks if (path := _local_file(dataset, task, folder))}
    drafts: dict[str, Iterable[Draft]] = {
        task: dataset.read(path, settings.max_input_bytes) for task, path in found.items()
    }
    missing = [task for task in tasks if task not in found]
    if missing:
        drafts.update(_from_hub(spec, dataset, missing, folder))
    in_order = (draft for task in tasks for draft in drafts[task])
    return number_drafts(within_question_limit(in_order, spec, settings.max_questions))


def within_question_limit(drafts: Iterable[Draft], spec: str, most: int) -> Iterator[Draft]:
    """The drafts, as they come, failing at the first one past `most`: a file of a million
    questions fails early rather than after it has all been read."""
    for count, draft in enumerate(drafts, start=1):
        if count > most:
            problem = (
                f"more than {most:,} questions ({QUESTION_LIMIT_SETTING}={most}); "
                "split the input, or raise the limit"
            )
            raise DataError(spec, problem)
        yield draft


def _local_file(dataset: FileDataset, task: str, folder: Path | None) -> Path | None:
    if folder is None:
        return None
    candidates = (folder / layout.format(task=task) for layout in dataset.layouts)
    return next((path for path in candidates if path.is_file()), None)


def _from_hub(
    spec: str, dataset: FileDataset, missing: list[str], folder: Path | None
) -> dict[str, Iterable[Draft]]:
    where = f"under {folder}" if folder else "nowhere: SALAM_DATA_DIR is not set"
    looked = f"no local {dataset.name} files for {_few(missing)} (looked for "
    looked += f"{' or '.join(dataset.layouts)} {where})"
    hub = dataset.hub
    if hub is None:
        raise DataError(spec, f"{looked}; {dataset.name} is not on the HF hub; {FIX}")
    drafts: dict[str, Iterable[Draft]] = {}
    for task in missing:
        log.info("fetching %s %s from the HF hub (%s)", dataset.name, task, hub.repo)
        try:
            rows = fetch_rows(hub.repo, task, hub.split)
        except HubUnavailable as err:
            problem = f"{looked}, and the HF hub copy {hub.repo} is not available: {err}; {FIX}"
            raise DataError(spec, problem) from err
        drafts[task] = hub.to_drafts(rows, f"hf://datasets/{hub.repo}/{task}", task)
    return drafts


def _few(names: Iterable[str], shown: int = 4) -> str:
    names = list(names)
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def load_split(
    spec: str,
    *,
    data_dir: Path | None = None,
    tasks: Sequence[str] | None = None,
    limit: int | None = None,
    seed: int = 0,
) -> Split:
    """`load_questions`, split per task as the paper does (80 % train, 20 % test)."""
    questions = load_questions(spec, data_dir=data_dir, tasks=tasks, limit=limit, seed=seed)
    return split_questions(questions)
