"""What the study assistant writes for held-out prompts: how much of it is usable feedback.

The outputs are sampled with the study assistant's decoding settings and no constraint. The
local backend samples JSON-schema requests under a grammar, which makes every output parse:
scored that way, the share would say nothing about what the adapter learned, and servers
without grammars get the model's own output.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from salam.assistant import LEAK, parse_feedback, parse_feedback_json
from salam.finetune.encoding import EncodedExample
from salam.finetune.examples import TrainingExample
from salam.llm.base import GenerationParams, Prompt
from salam.llm.local_generate import generate_texts
from salam.llm.local_model import LoadedModel


@dataclass(frozen=True)
class OutputScores:
    """`leak_share` is over the outputs whose question is known; None when none is."""

    generated: int
    valid_json_share: float
    leak_share: float | None

    def as_metrics(self, suffix: str) -> dict[str, float | int]:
        metrics: dict[str, float | int] = {f"valid_json_share_{suffix}": self.valid_json_share}
        if self.leak_share is not None:
            metrics[f"leak_share_{suffix}"] = self.leak_share
        return metrics


def score_outputs(
    loaded: LoadedModel,
    examples: Sequence[TrainingExample],
    params: GenerationParams,
    batch_size: int,
) -> OutputScores:
    """Sample one output per example and parse it as the pipeline parses the SA's output."""
    assert examples, "scoring needs at least one held-out example"
    outputs = sample_outputs(loaded, examples, params, batch_size)
    valid = sum(parse_feedback_json(output).feedback is not None for output in outputs)
    checked = [
        (output, example.question)
        for output, example in zip(outputs, examples, strict=True)
        if example.question is not None
    ]
    leaks = sum(parse_feedback(output, question).failure == LEAK for output, question in checked)
    return OutputScores(
        generated=len(outputs),
        valid_json_share=valid / len(outputs),
        leak_share=leaks / len(checked) if checked else None,
    )


def sample_outputs(
    loaded: LoadedModel,
    examples: Sequence[TrainingExample],
    params: GenerationParams,
    batch_size: int,
) -> list[str]:
    """The SA's outputs; an output the model could not give (prompt too long) is empty."""
    loaded.model.eval()  # no LoRA dropout while sampling
    prompts = [Prompt(example.prompt) for example in examples]
    completions = generate_texts(loaded, prompts, params, batch_size)
    return [completion.text for completion in completions]


class HeldOutCheck:
    """Held-out loss and sampled-output scores, measured the same way before and after
    training; nothing at all without a held-out slice."""

    def __init__(
        self,
        loaded: LoadedModel,
        trainer: Any,
        held_out: Sequence[EncodedExample],
        *,
        max_generations: int,
        params: GenerationParams,
        batch_size: int,
    ) -> None:
        self.loaded = loaded
        self.trainer = trainer
        self.held_out = held_out
        self.sampled = [item.example for item in held_out[:max_generations]]
        self.params = params
        self.batch_size = batch_size

    def measure(self, when: str) -> dict[str, float | int]:
        """Metrics named `<metric>_<when>`, e.g. `held_out_loss_before`."""
        if not self.held_out:
            return {}
        loss = self.trainer.evaluate(metric_key_prefix=f"held_out_{when}")
        metrics: dict[str, float | int] = {f"held_out_loss_{when}": loss[f"held_out_{when}_loss"]}
        if self.sampled:
            scores = score_outputs(self.loaded, self.sampled, self.params, self.batch_size)
            metrics["held_out_generated"] = scores.generated
            metrics.update(scores.as_metrics(when))
        return metrics
