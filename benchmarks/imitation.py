"""The paper's "SALAM w/ IL" on the embedded default: fine-tune SmolLM2's study assistant (SA)
on the published GPT-4 feedback for bbq-salam, then compare SA v0 (the base model) and v1 (its
LoRA adapter) on the same questions.

    python benchmarks/imitation.py --data-dir ../shared/data [--steps 60] [--limit 20]

Training data: the paper's BBQ feedback whose questions are in the bbq-salam train split,
each rendered with salam's own feedback prompt (the question, the wrong answer, the true
answer) and the GPT-4 `{reason, guideline}` as the completion. The comparison runs `salam
eval`'s gather and exam in process on `--limit` questions per task, once per SA version:
share of SA outputs that gave a usable guideline and that were rejected as leaks, retries
made right during the gather, and `none`, `feedback` and `agent` accuracy. The fine-tune's
own held-out figures (loss, and the share of unconstrained samples that parse as JSON, before
and after) are printed too.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from salam.data import load_split
from salam.evaluation import Models
from salam.experiment import EvalOptions, EvalReport, evaluate
from salam.feedback_file import load_feedback_file
from salam.finetune import FinetuneConfig, TrainingExample, run_finetune
from salam.llm import generation_params
from salam.llm.local import LocalLLM
from salam.llm.local_hardware import choose_dtype, resolve_device
from salam.llm.model_cache import plain_model_folder
from salam.llm.model_files import locate_model
from salam.memory import memory_from_settings
from salam.prompts import feedback_prompt
from salam.settings import get_settings

FEEDBACK_FILE = Path("salam/feedback/bbq_gpt4_feedback.json")


def training_examples(data_dir: Path) -> list[TrainingExample]:
    """Published feedback on bbq-salam train questions, in salam's own SA prompt."""
    train = {_key(q.prompt): q for q in load_split("bbq-salam", data_dir=data_dir).train}
    examples = []
    for item in load_feedback_file(data_dir / FEEDBACK_FILE).items:
        question = train.get(_key(item.question))
        if question is None:
            continue
        completion = json.dumps({"reason": item.reason, "guideline": item.guideline})
        prompt = feedback_prompt(question, item.answer)
        examples.append(TrainingExample(prompt, completion, question))
    return examples


def _key(question: str) -> str:
    # The published prompts and the loader's may differ in spacing around the options.
    return " ".join(question.split("Options:")[0].split()).lower()


def fine_tune(
    examples: list[TrainingExample], steps: int, output: Path
) -> tuple[Path, dict[str, object]]:
    settings = get_settings()
    files = locate_model(None)
    base = plain_model_folder(files, torch.float32)
    config = replace(FinetuneConfig.from_settings(settings), max_steps=steps, eval_generations=8)
    started = time.perf_counter()
    result = run_finetune(
        base, examples, config, output, generation=generation_params("sa", settings)
    )
    metrics: dict[str, object] = {
        **result.metrics,
        "wall_s": round(time.perf_counter() - started, 1),
        "dtype": result.dtype,
    }
    return result.adapter_dir, metrics


def compare(adapter: Path | None, data_dir: Path, limit: int) -> EvalReport:
    settings = get_settings()
    split = load_split("bbq-salam", data_dir=data_dir, limit=limit)
    models = Models(
        main=LocalLLM(),
        main_params=generation_params("main", settings),
        assistant=LocalLLM(adapter=str(adapter) if adapter else None),
        assistant_params=generation_params("sa", settings),
    )
    return evaluate(
        "bbq-salam",
        split,
        ["none", "feedback", "agent"],
        models,
        memory_from_settings(settings),
        options=EvalOptions(iterations=1, chunk_size=settings.batch_size),
    )


def summary_row(label: str, report: EvalReport) -> str:
    gather = report.gather
    assert gather is not None
    mistakes = max(gather.mistakes, 1)
    accuracy = {exam.strategy: exam.scores.pooled for exam in report.exams}
    return (
        f"{label:<4} {gather.mistakes:>8} {100 * gather.guidelines / mistakes:>9.0f}% "
        f"{100 * gather.failures['leak'] / mistakes:>5.0f}% "
        f"{gather.retries_correct:>5}/{gather.retries:<5} "
        f"{accuracy['none']:>6.1f} {accuracy['feedback']:>8.1f} {accuracy['agent']:>6.1f} "
        f"{report.seconds:>7.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=60, help="optimizer steps of the fine-tune")
    parser.add_argument("--limit", type=int, default=20, help="questions per task compared")
    parser.add_argument("--output", type=Path, help="keep the adapter here")
    args = parser.parse_args()
    choice = choose_dtype(get_settings().dtype, resolve_device(get_settings().device))
    print(f"SmolLM2-135M-Instruct as main LLM and SA, {choice.dtype} ({choice.reason})")

    examples = training_examples(args.data_dir)
    print(f"training examples (published feedback on train-split questions): {len(examples)}")
    with tempfile.TemporaryDirectory(prefix="salam-il-") as scratch:
        output = args.output or Path(scratch)
        adapter, metrics = fine_tune(examples, args.steps, output)
        print("fine-tune: " + ", ".join(f"{k} {v}" for k, v in sorted(metrics.items())))
        print(
            f"\n{'SA':<4} {'mistakes':>8} {'guideline':>10} {'leak':>6} {'retries':>11} "
            f"{'none':>6} {'feedback':>8} {'agent':>6} {'seconds':>7}"
        )
        print(summary_row("v0", compare(None, args.data_dir, args.limit)), flush=True)
        print(summary_row("v1", compare(adapter, args.data_dir, args.limit)), flush=True)


if __name__ == "__main__":
    main()
