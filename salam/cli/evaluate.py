"""`salam eval` and `salam datasets`: the method in one process, no queues."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from salam.settings import Settings, get_settings


def register(subcommands: Any) -> None:
    parser = subcommands.add_parser(
        "eval",
        help="gather on the train split, examine the test split, print the table (in process)",
        description="Run SALAM in one process: answer the train split, let the study assistant "
        "analyse each mistake, keep its guidelines, then answer the test split under each "
        "strategy and print the paper-style table.",
    )
    add_dataset_arguments(parser)
    parser.add_argument(
        "--strategies",
        default="none,feedback",
        help="comma-separated: none, correct, mistake, feedback, feedback_only, agent "
        "(default: none,feedback)",
    )
    parser.add_argument(
        "--iterations", type=int, help="retries of a mistake (SALAM_MAX_ITERATIONS)"
    )
    parser.add_argument(
        "--feedback-file",
        type=Path,
        action="append",
        help="use published feedback (the paper's format) as the memory instead of gathering; "
        "may be repeated",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("salam-output"),
        help="folder for results.json and accuracy.png (default: salam-output)",
    )
    parser.add_argument("--verbose", action="store_true", help="per-task accuracies too")
    parser.add_argument(
        "--no-constrain",
        action="store_true",
        help="let the main LLM answer freely instead of choosing an option",
    )
    parser.set_defaults(handler=run_eval)

    datasets = subcommands.add_parser("datasets", help="list the datasets and presets")
    datasets.set_defaults(handler=list_datasets)


def add_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "dataset",
        nargs="?",
        default="generated",
        help="a preset (bbh-salam, bbq-salam), a dataset name (see `salam datasets`) or a path "
        "to a file or folder (default: generated)",
    )
    parser.add_argument("--data-dir", type=Path, help="local benchmark folder (SALAM_DATA_DIR)")
    parser.add_argument("--limit", type=int, help="at most N questions per task")
    parser.add_argument("--tasks", help="comma-separated task names to keep")


def load_split(args: argparse.Namespace, settings: Settings) -> Any:
    from salam.data import load_questions, split_questions

    questions = load_questions(
        args.dataset,
        data_dir=args.data_dir,
        tasks=[t.strip() for t in args.tasks.split(",")] if args.tasks else None,
        limit=args.limit,
        seed=settings.seed,
    )
    return split_questions(questions)


def list_datasets(_args: argparse.Namespace) -> int:
    from salam.data import describe_datasets

    rows = describe_datasets()
    width = max(len(name) for name, _ in rows)
    for name, description in rows:
        print(f"{name:<{width}}  {description}")
    return 0


def tqdm_progress(quiet: bool) -> Callable[[str, int], Callable[[int], None]]:
    from tqdm import tqdm

    def start(label: str, total: int) -> Callable[[int], None]:
        bar = tqdm(total=total, desc=label, unit="q", disable=quiet or total == 0, leave=False)

        def advance(done: int) -> None:
            bar.update(done)
            if bar.n >= total:
                bar.close()

        return advance

    return start


def run_eval(args: argparse.Namespace) -> int:
    from salam.strategies import parse_strategies

    settings = get_settings()
    strategies = parse_strategies(args.strategies)
    split = load_split(args, settings)  # bad data fails here, before any model loads
    published = _read_feedback_files(args.feedback_file or [])
    started = time.perf_counter()
    models, memory = _build(settings, strategies, gather_needed=not published)
    progress = tqdm_progress(args.quiet)
    from salam.evaluation import examine, gather
    from salam.report import format_table, plot_scores

    iterations = settings.max_iterations if args.iterations is None else args.iterations
    constrain = settings.constrain_answers and not args.no_constrain
    summary = None
    if published:
        memory.add(published)
    else:
        summary = gather(
            split.train,
            models,
            memory,
            iterations=iterations,
            chunk_size=settings.batch_size,
            constrain=constrain,
            progress=progress,
        )
    exams = [
        examine(
            split.test,
            strategy,
            models,
            memory,
            chunk_size=settings.batch_size,
            constrain=constrain,
            progress=progress,
        )
        for strategy in strategies
    ]
    rows = [exam.scores for exam in exams]
    title = f"{args.dataset}: {models.main.model_id}"
    print(title)
    if summary is not None:
        print(_describe_gather(summary.to_dict()))
    print(format_table(rows, verbose=args.verbose))
    args.output.mkdir(parents=True, exist_ok=True)
    plot_scores(rows, args.output / "accuracy.png", title=title)
    _write_results(
        args,
        settings,
        models,
        summary,
        exams,
        len(split.train),
        len(split.test),
        time.perf_counter() - started,
        len(published),
    )
    if not args.quiet:
        print(
            f"wrote {args.output / 'results.json'} and {args.output / 'accuracy.png'}",
            file=sys.stderr,
        )
    return 0


def _read_feedback_files(paths: list[Path]) -> list[Any]:
    from salam.feedback_file import load_feedback_file
    from salam.memory import MemoryEntry

    entries = []
    for path in paths:
        loaded = load_feedback_file(path)
        for number, item in enumerate(loaded.items):
            entries.append(
                MemoryEntry(
                    id=f"published:{path.name}:{number}",
                    kind="mistake",
                    question=item.question,
                    answer=item.answer,
                    target=item.target,
                    guideline=item.guideline,
                )
            )
    return entries


def _build(settings: Settings, strategies: list[Any], *, gather_needed: bool) -> tuple[Any, Any]:
    from salam.embedding import load_embedder
    from salam.evaluation import Models
    from salam.llm import generation_params, make_llm
    from salam.memory import GuidelineMemory

    needs_assistant = gather_needed or "agent" in strategies
    models = Models(
        main=make_llm("main", settings),
        main_params=generation_params("main", settings),
        assistant=make_llm("sa", settings) if needs_assistant else None,
        assistant_params=generation_params("sa", settings) if needs_assistant else None,
    )
    memory = GuidelineMemory(
        load_embedder(settings.embedder or None),
        top_k=settings.memory_top_k,
        threshold=settings.memory_threshold,
        max_size=settings.memory_max_size,
    )
    return models, memory


def _describe_gather(summary: dict[str, Any]) -> str:
    failures = ", ".join(f"{k} {v}" for k, v in summary["failures"].items()) or "none"
    return (
        f"gather: {summary['questions']} questions, {summary['first_correct']} right first time, "
        f"{summary['mistakes']} mistakes -> {summary['guidelines']} guidelines "
        f"(rejected: {failures}); retries {summary['retries_correct']}/{summary['retries']} right"
    )


def _write_results(
    args: argparse.Namespace,
    settings: Settings,
    models: Any,
    summary: Any,
    exams: list[Any],
    train_size: int,
    test_size: int,
    seconds: float,
    published: int,
) -> None:
    from salam.prompts import PROMPT_VERSION

    document = {
        "dataset": args.dataset,
        "train_questions": train_size,
        "test_questions": test_size,
        "main_model": models.main.model_id,
        "assistant_model": models.assistant.model_id if models.assistant else None,
        "prompt_version": PROMPT_VERSION,
        "published_guidelines": published,
        "settings": settings.model_dump(mode="json", exclude={"api_key", "flower_password"}),
        "seconds": round(seconds, 1),
        "gather": summary.to_dict() if summary else None,
        "strategies": [exam.scores.to_dict() for exam in exams],
        "answers": {
            exam.strategy: [
                {
                    "id": r.question_id,
                    "answer": r.answer,
                    "correct": r.correct,
                    "output": r.output,
                    "error": r.error,
                    "memory": list(r.source_ids),
                }
                for r in exam.results
            ]
            for exam in exams
        },
    }
    (args.output / "results.json").write_text(json.dumps(document, indent=2), encoding="utf-8")
