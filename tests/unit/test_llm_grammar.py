"""Grammar-constrained sampling: bounded schemas, and a mask that makes any sampler write JSON.

The sampler here is a random one over a tiny byte-level tokenizer built in the test, so every
path through the grammar gets exercised without loading a model.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from salam.llm.local_grammar import (
    STRING_MAX_CHARS,
    GrammarLogitsProcessor,
    bounded_schema,
    schema_grammar,
)
from salam.prompts import FEEDBACK_SCHEMA

EOS = 0


@pytest.fixture(scope="module")
def tokenizer() -> PreTrainedTokenizerFast:
    """Every byte as a token, a few merges so that tokens span JSON syntax, and an EOS."""
    vocabulary = {"<eos>": EOS}
    for byte in sorted(pre_tokenizers.ByteLevel.alphabet()):
        vocabulary[byte] = len(vocabulary)
    merges = [("{", '"'), ('"', ":"), ("Ġ", '"'), ('"', "}"), ('"', ","), ("r", "e")]
    for left, right in merges:
        vocabulary[left + right] = len(vocabulary)
    backend = Tokenizer(models.BPE(vocab=vocabulary, merges=merges))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=backend, eos_token="<eos>"
    )


@pytest.fixture(scope="module")
def grammar_tokenizer(tokenizer: PreTrainedTokenizerFast) -> Any:
    import llguidance.hf

    return llguidance.hf.from_tokenizer(tokenizer)


def sample(processor: GrammarLogitsProcessor, rows: int, vocab: int, steps: int) -> list[list[int]]:
    """Random scores, masked, sampled: what `generate` does with a model that knows nothing.

    A finished row is fed EOS as padding, as `generate` feeds it the pad token.
    """
    generator = torch.Generator().manual_seed(0)
    ids = torch.full((rows, 1), EOS, dtype=torch.long)
    finished = torch.zeros(rows, dtype=torch.bool)
    for _ in range(steps):
        scores = processor(ids, torch.randn((rows, vocab), generator=generator))
        chosen = torch.multinomial(torch.softmax(scores, dim=-1), 1, generator=generator)[:, 0]
        chosen[finished] = EOS
        finished |= chosen == EOS
        ids = torch.cat([ids, chosen[:, None]], dim=1)
        if finished.all():
            break
    return [row[1 : row.index(EOS, 1) if EOS in row[1:] else None] for row in ids.tolist()]


def test_open_strings_get_a_bound_that_the_budget_covers() -> None:
    roomy = bounded_schema(FEEDBACK_SCHEMA, 512)
    assert [spec["maxLength"] for spec in roomy["properties"].values()] == [STRING_MAX_CHARS] * 2
    tight = bounded_schema(FEEDBACK_SCHEMA, 100)
    bound = tight["properties"]["reason"]["maxLength"]
    assert 0 < bound < STRING_MAX_CHARS
    # The object's 31 characters, then both strings at 2.5 characters per token, fit in 100.
    assert 31 + 2 * bound / 2.5 <= 100
    assert "maxLength" not in FEEDBACK_SCHEMA["properties"]["reason"], "the input is not changed"


def test_bounds_already_in_the_schema_are_kept() -> None:
    schema = {
        "type": "object",
        "properties": {"note": {"type": "string", "maxLength": 20}, "n": {"type": "integer"}},
    }
    assert bounded_schema(schema, 512) == schema


def test_any_sampler_writes_feedback_json_under_the_grammar(
    tokenizer: PreTrainedTokenizerFast, grammar_tokenizer: Any
) -> None:
    grammar = schema_grammar(FEEDBACK_SCHEMA, 80)
    processor = GrammarLogitsProcessor(grammar_tokenizer, [grammar] * 4)
    for row in sample(processor, 4, len(tokenizer), steps=400):
        document = json.loads(str(tokenizer.decode(row)))
        assert list(document) == ["reason", "guideline"]
        assert all(isinstance(text, str) and text for text in document.values())


def test_a_row_ended_by_a_stop_string_is_fed_padding_without_breaking_the_batch(
    tokenizer: PreTrainedTokenizerFast, grammar_tokenizer: Any
) -> None:
    grammar = schema_grammar(FEEDBACK_SCHEMA, 80)
    processor = GrammarLogitsProcessor(grammar_tokenizer, [grammar] * 2)
    opening, letter = tokenizer('{"r', add_special_tokens=False)["input_ids"]
    zeros = torch.zeros((2, len(tokenizer)))
    processor(torch.tensor([[EOS], [EOS]]), zeros)
    processor(torch.tensor([[EOS, opening], [EOS, opening]]), zeros)
    # Row 1 was ended there and is fed EOS as padding, which its grammar does not allow.
    scores = processor(torch.tensor([[EOS, opening, letter], [EOS, opening, EOS]]), zeros)
    assert torch.isfinite(scores[0]).nonzero().flatten().tolist() not in ([], [EOS])
    assert torch.isfinite(scores[1]).nonzero().flatten().tolist() == [EOS]


def test_an_invalid_grammar_is_refused(grammar_tokenizer: Any) -> None:
    with pytest.raises(ValueError, match="invalid grammar"):
        GrammarLogitsProcessor(grammar_tokenizer, ["start: undefined_rule"])
