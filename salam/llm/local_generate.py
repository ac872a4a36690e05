"""Generation with transformers' `generate`: left-padded batches of similar length, free or
constrained by a grammar per prompt."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from transformers import LogitsProcessorList

from salam.llm.base import Completion, GenerationParams, Prompt
from salam.llm.local_grammar import GrammarLogitsProcessor, grammar_tokenizer
from salam.llm.local_model import LoadedModel, batches_by_length
from salam.llm.local_template import encode_prompt


def generate_texts(
    loaded: LoadedModel,
    prompts: Sequence[Prompt],
    params: GenerationParams,
    batch_size: int,
    prefills: Sequence[str] | None = None,
    grammars: Sequence[str] | None = None,
) -> list[Completion]:
    """One completion per prompt. A prefill starts the answer and is part of its text; a
    grammar (see `local_grammar`) constrains the answer of its prompt.

    Sampling draws from one generator seeded with `params.seed`, batch after batch in a fixed
    order, so the same call gives the same texts.
    """
    prefills = prefills if prefills is not None else [""] * len(prompts)
    encoded = [
        encode_prompt(loaded, prompt, prefill)
        for prompt, prefill in zip(prompts, prefills, strict=True)
    ]
    results: list[Completion | None] = [None] * len(prompts)
    fitting = []
    for index, ids in enumerate(encoded):
        limit = loaded.context_length
        if limit is not None and len(ids) + params.max_new_tokens > limit:
            results[index] = Completion(
                "", prompt_tokens=len(ids), error="prompt longer than the model's context"
            )
        else:
            fitting.append(index)
    seed = None if params.greedy else params.seed
    with _seeded(loaded.device, seed):
        for positions in batches_by_length([len(encoded[i]) for i in fitting], batch_size):
            batch = [fitting[position] for position in positions]
            started = time.perf_counter()
            batch_grammars = [grammars[i] for i in batch] if grammars is not None else None
            outputs = _generate_batch(loaded, [encoded[i] for i in batch], params, batch_grammars)
            latency = (time.perf_counter() - started) / len(batch)
            for index, new_ids in zip(batch, outputs, strict=True):
                results[index] = _completion(
                    loaded, new_ids, prefills[index], params, len(encoded[index]), latency
                )
    return [result for result in results if result is not None]


@contextlib.contextmanager
def _seeded(device: torch.device, seed: int | None) -> Iterator[None]:
    """Seed the random state for the block and restore it afterwards; no-op without a seed."""
    if seed is None:
        yield
        return
    devices = [device] if device.type in ("cuda", "mps") else []
    with torch.random.fork_rng(devices=devices, device_type=device.type):
        torch.manual_seed(seed)
        yield


@torch.inference_mode()
def _generate_batch(
    loaded: LoadedModel,
    rows: list[list[int]],
    params: GenerationParams,
    grammars: list[str] | None,
) -> list[list[int]]:
    width = max(len(row) for row in rows)
    input_ids = torch.full((len(rows), width), loaded.pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
    for index, row in enumerate(rows):
        input_ids[index, width - len(row) :] = torch.tensor(row, dtype=torch.long)
        attention_mask[index, width - len(row) :] = 1
    extra: dict[str, Any] = {"tokenizer": loaded.tokenizer} if params.stop else {}
    if grammars is not None:
        processor = GrammarLogitsProcessor(grammar_tokenizer(loaded), grammars)
        extra["logits_processor"] = LogitsProcessorList([processor])
    output = loaded.model.generate(
        input_ids=input_ids.to(loaded.device),
        attention_mask=attention_mask.to(loaded.device),
        generation_config=_generation_config(loaded, params),
        **extra,
    )
    return [list(map(int, row)) for row in output[:, width:].tolist()]


def _generation_config(loaded: LoadedModel, params: GenerationParams) -> Any:
    from transformers import GenerationConfig

    sampling: dict[str, Any] = {"do_sample": False}
    if not params.greedy:
        # Explicit neutral values: left unset, transformers fills in its own (top-k 50).
        sampling = {
            "do_sample": True,
            "temperature": params.temperature,
            "top_k": params.top_k or 0,
            "top_p": params.top_p if params.top_p is not None else 1.0,
        }
    return GenerationConfig(  # type: ignore[no-untyped-call]
        max_new_tokens=params.max_new_tokens,
        pad_token_id=loaded.pad_id,
        eos_token_id=sorted(loaded.eos_ids) or None,
        stop_strings=list(params.stop) or None,
        **sampling,
    )


def _completion(
    loaded: LoadedModel,
    new_ids: list[int],
    prefill: str,
    params: GenerationParams,
    prompt_tokens: int,
    latency: float,
) -> Completion:
    end = next((i for i, token in enumerate(new_ids) if token in loaded.eos_ids), None)
    kept = new_ids if end is None else new_ids[:end]
    text = _cut_at_stop(loaded.tokenizer.decode(kept, skip_special_tokens=True), params.stop)
    return Completion(
        prefill + text,
        prompt_tokens=prompt_tokens,
        completion_tokens=len(kept) if end is None else end + 1,
        latency_s=latency,
    )


def _cut_at_stop(text: str, stops: tuple[str, ...]) -> str:
    """The text before the first stop string; the stop string itself is not returned."""
    cuts = [text.find(stop) for stop in stops if stop and stop in text]
    return text[: min(cuts)] if cuts else text
