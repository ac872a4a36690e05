"""Examples as token ids, rendered exactly as the local backend renders a study-assistant
prompt, with the loss on the completion (and its end-of-sequence token) only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from salam.errors import FinetuneError
from salam.finetune.examples import TrainingExample
from salam.llm.base import Prompt
from salam.llm.local_model import LoadedModel
from salam.llm.local_template import encode_prompt

# Positions with this label add nothing to the loss (transformers' and torch's convention).
IGNORED = -100


@dataclass(frozen=True)
class EncodedExample:
    """`input_ids` = prompt ids then completion ids then end-of-sequence; the first
    `prompt_length` of them are context only."""

    example: TrainingExample
    input_ids: tuple[int, ...]
    prompt_length: int

    @property
    def labels(self) -> list[int]:
        return [IGNORED] * self.prompt_length + list(self.input_ids[self.prompt_length :])

    def as_features(self) -> dict[str, list[int]]:
        return {"input_ids": list(self.input_ids), "labels": self.labels}


def encode_example(loaded: LoadedModel, example: TrainingExample, eos_id: int) -> EncodedExample:
    """The prompt is encoded apart from the completion, as at generation time, where the model
    continues the prompt's own ids; the EOS teaches it to stop once the JSON is closed."""
    prompt_ids = encode_prompt(loaded, Prompt(example.prompt))
    completion = loaded.tokenizer(example.completion, add_special_tokens=False)["input_ids"]
    ids = (*prompt_ids, *completion, eos_id)
    return EncodedExample(example, tuple(int(token) for token in ids), len(prompt_ids))


def encode_fitting(
    loaded: LoadedModel, examples: Sequence[TrainingExample], max_length: int
) -> tuple[list[EncodedExample], int]:
    """The examples that fit in `max_length` tokens, and how many did not.

    A long example is left out rather than cut: a cut completion would teach the assistant to
    stop in the middle of its JSON.
    """
    eos_id = end_of_sequence_id(loaded)
    encoded = [encode_example(loaded, example, eos_id) for example in examples]
    fitting = [item for item in encoded if len(item.input_ids) <= max_length]
    if not fitting:
        shortest = min(len(item.input_ids) for item in encoded)
        raise FinetuneError(
            f"every training example is longer than the maximum length ({max_length} tokens; "
            f"the shortest has {shortest}): raise SALAM_FINETUNE_MAX_LENGTH"
        )
    return fitting, len(encoded) - len(fitting)


def end_of_sequence_id(loaded: LoadedModel) -> int:
    """The token appended to every completion: the one the chat template closes a turn with
    (the tokenizer's EOS), which generation also stops at."""
    eos = loaded.tokenizer.eos_token_id
    return int(eos) if eos is not None and eos in loaded.eos_ids else min(loaded.eos_ids)


def pad_batch(features: Sequence[dict[str, list[int]]], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded `input_ids`, `attention_mask` and `labels`; padding is never a target."""
    assert features, "a batch needs at least one example"
    width = max(len(feature["input_ids"]) for feature in features)
    input_ids = torch.full((len(features), width), pad_id, dtype=torch.long)  # (B, T)
    labels = torch.full((len(features), width), IGNORED, dtype=torch.long)  # (B, T)
    attention_mask = torch.zeros((len(features), width), dtype=torch.long)  # (B, T)
    for row, feature in enumerate(features):
        length = len(feature["input_ids"])
        assert len(feature["labels"]) == length, "labels must align with input_ids"
        input_ids[row, :length] = torch.tensor(feature["input_ids"], dtype=torch.long)
        labels[row, :length] = torch.tensor(feature["labels"], dtype=torch.long)
        attention_mask[row, :length] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}
