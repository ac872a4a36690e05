"""Training tokens per second and peak memory of the study assistant's LoRA fine-tune
(SmolLM2-135M by default, on the paper's GPT-4 feedback for BBQ), in fp32 and, where the
hardware computes in it, bf16: each dtype in a fresh process, so that each peak is its own.

    .venv/bin/python benchmarks/finetune_throughput.py --data-dir ../shared/data --steps 6

Tokens are the prompt and completion tokens trained on (padding not counted). "steady" leaves
out the first step, which also pays for one-time set-up; it needs two steps or more. Peak
memory is the process's peak resident set (model loading included) and, on a GPU, the peak
memory torch allocated there.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Literal, cast

import torch

from salam.feedback_file import load_feedback_file
from salam.finetune import FinetuneConfig, TrainingExample, run_finetune
from salam.llm.local_hardware import cpu_bf16_feature, resolve_device
from salam.llm.model_cache import plain_model_folder
from salam.llm.model_files import locate_model
from salam.prompts import feedback_prompt

FEEDBACK_FILE = Path("salam") / "feedback" / "bbq_gpt4_feedback.json"
MEASURED = "measured: "
DtypeName = Literal["float32", "bfloat16"]


def main() -> None:
    args = _arguments()
    if args.measure:
        _measure(args, args.measure)
        return
    device = resolve_device(args.device)
    print(_hardware(device))
    dtypes = args.dtypes.split(",") if args.dtypes else _dtypes_worth_measuring(device)
    if not set(dtypes) <= {"float32", "bfloat16"}:
        sys.exit(f"--dtypes takes float32 and bfloat16, not {args.dtypes!r}")
    print(
        f"model {args.model or 'SmolLM2-135M-Instruct'}, LoRA rank {args.lora_rank}, "
        f"{args.steps} steps x batch {args.batch_size}, max length {args.max_length}, "
        f"{args.threads} threads, activation checkpointing {args.activation_checkpointing}"
    )
    for dtype in dtypes:
        # converted here, once: a conversion inside the measured process would be its peak
        plain_model_folder(locate_model(args.model), _torch_dtype(dtype))
    rows = [_measure_in_child(dtype) for dtype in dtypes]
    _print_table(rows)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--model", default="", help="GGUF path or model folder; '' = SmolLM2")
    parser.add_argument("--steps", type=int, default=6, help="optimizer steps per dtype")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=1024)
    parser.add_argument("--lora-rank", type=int, default=16)
    parser.add_argument("--activation-checkpointing", action="store_true")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--dtypes", default="", help="float32,bfloat16; default: by hardware")
    # one dtype, measured in a child process
    parser.add_argument(
        "--measure", default="", choices=["", "float32", "bfloat16"], help=argparse.SUPPRESS
    )
    return parser.parse_args()


def _hardware(device: torch.device) -> str:
    if device.type == "cuda":
        return f"GPU: {torch.cuda.get_device_name(device)}, torch {torch.__version__}"
    flags = _cpu_flags() & {"avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16"}
    return (
        f"CPU: {_cpu_name()}; torch capability {torch.backends.cpu.get_cpu_capability()}; "
        f"flags: {' '.join(sorted(flags)) or 'unknown'}; "
        f"bf16 instructions: {cpu_bf16_feature() or 'none (bf16 would be emulated)'}"
    )


def _cpu_name() -> str:
    for line in _cpuinfo_lines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _cpu_flags() -> set[str]:
    for line in _cpuinfo_lines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def _cpuinfo_lines() -> list[str]:
    try:
        return Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines()
    except OSError:  # not Linux
        return []


def _dtypes_worth_measuring(device: torch.device) -> list[str]:
    if device.type == "cuda":
        return ["float32", "bfloat16"] if torch.cuda.is_bf16_supported() else ["float32"]
    return ["float32", "bfloat16"] if cpu_bf16_feature() else ["float32"]


def _torch_dtype(name: str) -> torch.dtype:
    return {"float32": torch.float32, "bfloat16": torch.bfloat16}[name]


def _measure_in_child(dtype: str) -> dict[str, float | str]:
    command = [sys.executable, __file__, *sys.argv[1:], "--measure", dtype]
    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = [line for line in finished.stdout.splitlines() if line.startswith(MEASURED)]
    if finished.returncode != 0 or not lines:
        sys.exit(f"the {dtype} run failed:\n{finished.stderr[-3000:]}")
    return dict(json.loads(lines[-1].removeprefix(MEASURED)))


def _measure(args: argparse.Namespace, dtype: str) -> None:
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    base = plain_model_folder(locate_model(args.model), _torch_dtype(dtype))
    config = FinetuneConfig(
        lora_rank=args.lora_rank,
        lora_alpha=2 * args.lora_rank,
        max_steps=args.steps,
        batch_size=args.batch_size,
        grad_accumulation=1,
        max_length=args.max_length,
        activation_checkpointing=args.activation_checkpointing,
        held_out_fraction=0.0,  # still one held-out example: its loss is cheap, no sampling
        eval_generations=0,
        dtype=cast(DtypeName, dtype),
        device=str(device),
    )
    examples = _examples(args.data_dir, args.steps * args.batch_size + 1)
    step_times: list[float] = []
    with tempfile.TemporaryDirectory() as output:
        result = run_finetune(
            base,
            examples,
            config,
            Path(output),
            progress=lambda _: step_times.append(time.perf_counter()),
        )
        tokens_per_step = _tokens_per_step(result.log_path)
    print(MEASURED + json.dumps(_figures(dtype, result.metrics, step_times, tokens_per_step)))


def _examples(data_dir: Path, count: int) -> list[TrainingExample]:
    items = load_feedback_file(data_dir / FEEDBACK_FILE).items[:count]
    return [
        TrainingExample(
            prompt=feedback_prompt(item.as_record(index=index), item.answer),
            completion=json.dumps({"reason": item.reason, "guideline": item.guideline}),
        )
        for index, item in enumerate(items)
    ]


def _tokens_per_step(log_path: Path) -> list[int]:
    """Cumulative tokens trained after each step, from the training log."""
    entries = [json.loads(line) for line in log_path.read_text(encoding="utf-8").splitlines()]
    return [int(entry["num_input_tokens_seen"]) for entry in entries if "loss" in entry]


def _figures(
    dtype: str, metrics: dict[str, float | int], step_times: list[float], seen: list[int]
) -> dict[str, float | str]:
    figures: dict[str, float | str] = {
        "dtype": dtype,
        "tokens": metrics["trained_tokens"],
        "seconds": metrics["train_runtime_s"],
        "tokens_per_s": metrics["trained_tokens"] / metrics["train_runtime_s"],
        "steady_tokens_per_s": float("nan"),
        "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,  # KiB
        "peak_gpu_gib": _peak_gpu_bytes() / 2**30,
        "final_loss": metrics["train_loss_final"],
    }
    if len(step_times) >= 2 and len(seen) == len(step_times):
        figures["steady_tokens_per_s"] = (seen[-1] - seen[0]) / (step_times[-1] - step_times[0])
    return figures


def _peak_gpu_bytes() -> int:
    return torch.cuda.max_memory_allocated() if torch.cuda.is_available() else 0


def _print_table(rows: list[dict[str, float | str]]) -> None:
    print(
        "| dtype | tokens | seconds | tokens/s | steady tokens/s | peak RSS GiB | peak GPU GiB "
        "| final loss |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['dtype']} | {row['tokens']} | {float(row['seconds']):.1f} | "
            f"{float(row['tokens_per_s']):.0f} | {float(row['steady_tokens_per_s']):.0f} | "
            f"{float(row['peak_rss_gib']):.2f} | {float(row['peak_gpu_gib']):.2f} | "
            f"{float(row['final_loss']):.3f} |"
        )
    if len(rows) == 2:
        ratio = float(rows[1]["steady_tokens_per_s"]) / float(rows[0]["steady_tokens_per_s"])
        print(f"{rows[1]['dtype']} / {rows[0]['dtype']} steady tokens/s: {ratio:.2f}x")


if __name__ == "__main__":
    main()
