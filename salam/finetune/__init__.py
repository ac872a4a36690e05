"""Fine-tuning the study assistant on the feedback that worked (the paper's imitation
learning), as LoRA supervised fine-tuning; `run_finetune` is the one entry point."""

from salam.finetune.config import FinetuneConfig
from salam.finetune.examples import TrainingExample
from salam.finetune.job import FinetuneResult, run_finetune

__all__ = ["FinetuneConfig", "FinetuneResult", "TrainingExample", "run_finetune"]
