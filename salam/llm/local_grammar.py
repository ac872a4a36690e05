"""JSON-schema constrained sampling for the local backend, with llguidance.

At each step one matcher per row masks every token that cannot continue a document of the
schema, before temperature and top-k apply, so a sampled output always parses. Unbounded
strings would let a rambling model run past its token budget and leave the JSON open; each
top-level string without a `maxLength` gets one, sized so that the budget covers the bound
(see `bounded_schema`).

llguidance rather than xgrammar: on 16 SmolLM2 feedback outputs both wrote valid JSON every
time, and their masks cost 0.5 and 0.3 ms per row and step, about 1 % of a step either way;
llguidance has no dependencies, xgrammar needs tvm-ffi and, by default, triton.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

import llguidance
import torch
from transformers import LogitsProcessor

from salam.llm.local_model import LoadedModel

# Longer than every reason (longest 451 characters) and guideline (404) in the 2,369 GPT-4
# feedback outputs of the paper's imitation-learning data: a fitting feedback string is never
# cut by it.
STRING_MAX_CHARS = 500
# Characters per token that a budget is sized for: in 50 feedback outputs sampled from
# SmolLM2 under the grammar (`benchmarks/sa_json.py`), the strings averaged 4.7 characters per
# token and no output went below 2.9. Not a proof: a model writing mostly non-Latin text could
# still use up the budget before the strings close.
MIN_CHARS_PER_TOKEN = 2.5

# Compact separators and no free whitespace: models write JSON that way, and flexible
# whitespace would let a sampled model pad the object with newlines until the budget is spent.
_COMPILE_OPTIONS: Any = {
    "whitespace_flexible": False,
    "item_separator": ", ",
    "key_separator": ": ",
}


def schema_grammar(schema: dict[str, Any], max_new_tokens: int) -> str:
    """The llguidance grammar of `schema` with its strings bounded for `max_new_tokens`; every
    study-assistant prompt has the same schema, so it is compiled once per process."""
    # Keys keep their order: the grammar writes the properties in the schema's order.
    return _compiled_grammar(json.dumps(schema), max_new_tokens)


@functools.lru_cache(maxsize=64)
def _compiled_grammar(schema_json: str, max_new_tokens: int) -> str:
    schema = json.loads(schema_json)
    return str(
        llguidance.LLMatcher.grammar_from_json_schema(
            bounded_schema(schema, max_new_tokens), defaults=_COMPILE_OPTIONS
        )
    )


def bounded_schema(schema: dict[str, Any], max_new_tokens: int) -> dict[str, Any]:
    """`schema` with a `maxLength` on each top-level string property that has none.

    The bound is `STRING_MAX_CHARS`, or less when the token budget is too small to write every
    string that long at `MIN_CHARS_PER_TOKEN` after the object's own characters (keys,
    quotes: at most one token each).
    """
    properties = schema.get("properties") or {}
    open_ended = [
        name
        for name, spec in properties.items()
        if isinstance(spec, dict) and spec.get("type") == "string" and "maxLength" not in spec
    ]
    if not open_ended:
        return schema
    skeleton = len(json.dumps(dict.fromkeys(properties, ""), separators=(", ", ": ")))
    fitting = int((max_new_tokens - skeleton - 1) * MIN_CHARS_PER_TOKEN / len(open_ended))
    bound = max(1, min(STRING_MAX_CHARS, fitting))
    bounded = {
        name: {**spec, "maxLength": bound} if name in open_ended else spec
        for name, spec in properties.items()
    }
    return {**schema, "properties": bounded}


def grammar_tokenizer(loaded: LoadedModel) -> Any:
    """The model's tokenizer as llguidance reads it, built once per process (about 0.5 s)."""
    if loaded.grammar_tokenizer is None:
        import llguidance.hf

        loaded.grammar_tokenizer = llguidance.hf.from_tokenizer(
            loaded.tokenizer,
            n_vocab=loaded.model.config.vocab_size,
            eos_token=sorted(loaded.eos_ids) or None,
        )
    return loaded.grammar_tokenizer


class GrammarLogitsProcessor(LogitsProcessor):
    """Masks the logits of row i to the tokens that `grammars[i]` allows next.

    A matcher whose grammar is complete allows only end-of-sequence; transformers then feeds
    that finished row padding, which the stopped matcher is not asked to take. A row ended by
    a stop string is fed padding its matcher rejects: the matcher enters its error state and
    allows only end-of-sequence, which is harmless for a finished row.
    """

    def __init__(self, tokenizer: Any, grammars: Sequence[str]) -> None:
        # Silent: a rejected token is expected (see above), and errors are read, not printed.
        self._matchers = [
            llguidance.LLMatcher(tokenizer, grammar, log_level=0) for grammar in grammars
        ]
        errors = [matcher.get_error() for matcher in self._matchers if matcher.is_error()]
        if errors:
            raise ValueError(f"invalid grammar: {errors[0]}")
        self._started = False

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if self._started:
            self._consume(input_ids[:, -1].tolist())
        self._started = True
        allowed = self._allowed(scores.shape[-1]).to(scores.device)
        return scores.masked_fill(~allowed, float("-inf"))

    def _consume(self, tokens: list[int]) -> None:
        for matcher, token in zip(self._matchers, tokens, strict=True):
            if not matcher.is_stopped():
                matcher.consume_token(token)

    def _allowed(self, vocab_size: int) -> torch.Tensor:
        """[rows, vocab_size] booleans; tokens beyond the tokenizer's vocabulary never allowed.

        Unpacked here rather than by `llguidance.torch.apply_token_bitmask_inplace`, which
        goes through `torch.compile`: a C compiler at run time and seconds of compiling on a
        CPU for a mask that takes well under a millisecond to unpack."""
        words = (vocab_size + 31) // 32
        packed = torch.zeros((len(self._matchers), words), dtype=torch.int32)
        for row, matcher in enumerate(self._matchers):
            mask = torch.frombuffer(bytearray(matcher.compute_bitmask()), dtype=torch.int32)
            packed[row, : min(words, len(mask))] = mask[:words]
        bits = torch.arange(32, dtype=torch.int32)
        unpacked = (packed.unsqueeze(-1) >> bits) & 1  # [rows, words, 32], bit i = token 32w + i
        return unpacked.view(len(self._matchers), -1)[:, :vocab_size].bool()
