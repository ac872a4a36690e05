"""Scoring forward passes: next-token log-probs at chosen positions, no generation loop.

The prompts of a batch share a head (the chat template's system turn). Its keys and values
are computed once per process and copied into each batch, so a forward pass only runs the
tokens that differ. Rows are right-padded and no attention mask is passed: attention is
causal, so a real token never sees the padding after it, and padded positions are never read.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import torch

from salam.llm.local_model import LoadedModel, remember


@torch.inference_mode()
def next_token_logprobs(
    loaded: LoadedModel,
    head: tuple[int, ...],
    tails: Sequence[Sequence[int]],
    positions: Sequence[Sequence[int]],
) -> torch.Tensor:
    """Log-probs of the token after each of `positions[row]` (indices into `tails[row]`).

    Every row is `head + tails[row]`. Returns float32 [sum of len(positions[row]), vocab], rows
    in order.
    """
    assert len(tails) == len(positions), "one list of positions per row"
    assert all(tails), "every row needs at least one token after the head"
    input_ids = _right_padded(tails, loaded.pad_id).to(loaded.device)
    cache = _head_cache(loaded, head, len(tails)) if head else None
    body = loaded.model.base_model
    hidden = body(
        input_ids=input_ids, use_cache=cache is not None, **{_cache_argument(body): cache}
    )
    rows = [row for row, wanted in enumerate(positions) for _ in wanted]
    columns = [column for wanted in positions for column in wanted]
    picked = hidden.last_hidden_state[rows, columns]  # [N, hidden]
    # The vocabulary projection runs on the picked positions only: on a small model it costs
    # as much per position as the rest of the network.
    logits = loaded.model.get_output_embeddings()(picked).float()
    return torch.log_softmax(logits, dim=-1)


def _right_padded(rows: Sequence[Sequence[int]], pad_id: int) -> torch.Tensor:
    width = max(len(row) for row in rows)
    batch = torch.full((len(rows), width), pad_id, dtype=torch.long)
    for index, row in enumerate(rows):
        batch[index, : len(row)] = torch.tensor(row, dtype=torch.long)
    return batch


def _head_cache(loaded: LoadedModel, head: tuple[int, ...], batch_size: int) -> Any:
    """A fresh cache holding the head's keys and values for `batch_size` rows.

    Fresh because the forward pass appends to it; the stored head stays untouched.
    """
    from transformers import DynamicCache

    layers = loaded.head_states.get(head)
    if layers is None:
        layers = _compute_head(loaded, head)
        remember(loaded.head_states, head, layers)
    expanded = [
        (keys.expand(batch_size, -1, -1, -1), values.expand(batch_size, -1, -1, -1))
        for keys, values in layers
    ]
    return DynamicCache(expanded, config=loaded.model.config)


@torch.inference_mode()
def _compute_head(loaded: LoadedModel, head: tuple[int, ...]) -> list[tuple[torch.Tensor, ...]]:
    input_ids = torch.tensor([head], dtype=torch.long, device=loaded.device)
    output = loaded.model.base_model(input_ids=input_ids, use_cache=True)
    cache = output.get("cache")
    if cache is None:  # transformers before the rename
        cache = output.get("past_key_values")
    return [(layer.keys, layer.values) for layer in cache.layers]  # each [1, heads, len, dim]


def _cache_argument(body: Any) -> str:
    # transformers renamed `past_key_values` to `cache` (5.2x); accept both.
    parameters = inspect.signature(body.forward).parameters
    return "cache" if "cache" in parameters else "past_key_values"
