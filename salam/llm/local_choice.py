"""Answers constrained to a set of choices, in one forward pass per batch.

Greedy decoding constrained to the choices ("(A)", "(B)", ...) first emits the tokens every
choice starts with ("("), which the constraint forces, then picks the best-scoring allowed
token; from there only one choice is left, and the rest of it is forced too. So one forward
pass over prompt + forced tokens decides the answer, exactly as the constrained decode would,
provided every token allowed at that step leads to a single choice. `plan_choices` checks
this on the vocabulary (for SmolLM2 and "(A)".."(R)": forced "(", then one letter token per
choice); choice sets that fail it are scored in full, each choice's tokens summed.

Sampling parameters do not apply here: the choice is always the greedy one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from salam.llm.base import Completion, Prompt
from salam.llm.local_forward import next_token_logprobs
from salam.llm.local_model import LoadedModel, batches_by_length, remember
from salam.llm.local_template import encode_prompt, shared_head

# Rows x tokens per scoring pass on the CPU. Larger batches outgrow the CPU caches: with two
# threads and SmolLM2-135M, passes of 8-16 BBQ prompts (~1,000 tokens) answered 8-9
# questions/s, passes of 32 answered 6-7.
CPU_BATCH_TOKENS = 1024

SINGLE_STEP = "single_step"
FULL_SCORING = "full_scoring"


@dataclass(frozen=True)
class ChoicePlan:
    """How the constrained decode of `choices` goes, whatever the prompt.

    `forced_ids`: tokens it emits before anything is decided. `deciding_ids[i]`: the tokens
    allowed at the deciding step that lead to choice i; None when no single step decides.
    """

    choices: tuple[str, ...]
    forced_ids: tuple[int, ...] = ()
    deciding_ids: tuple[tuple[int, ...], ...] | None = None


@dataclass
class _Row:
    """One prompt to answer: its ids split into the shared head and the rest."""

    index: int
    head: tuple[int, ...]
    tail: list[int]
    prompt_tokens: int
    plan: ChoicePlan


def answer_choices(
    loaded: LoadedModel, prompts: Sequence[Prompt], batch_size: int
) -> list[Completion]:
    """The greedy choice for each prompt; every prompt must carry `constraint.choices`."""
    rows = [_row(loaded, index, prompt) for index, prompt in enumerate(prompts)]
    results: list[Completion | None] = [None] * len(rows)
    usable = []
    for row in rows:
        if _too_long(loaded, row):
            results[row.index] = Completion(
                "", prompt_tokens=row.prompt_tokens, error="prompt longer than the model's context"
            )
        else:
            usable.append(row)
    single = [row for row in usable if row.plan.deciding_ids is not None]
    full = [row for row in usable if row.plan.deciding_ids is None]
    max_tokens = CPU_BATCH_TOKENS if loaded.device.type == "cpu" else None
    for batch in _batches(single, batch_size, max_tokens):
        for row, completion in zip(batch, _single_step(loaded, batch), strict=True):
            results[row.index] = completion
    # Full scoring runs one row per choice, so fewer prompts fit in a batch.
    for batch in _batches(full, max(1, batch_size // 4), max_tokens and max_tokens // 4):
        for row, completion in zip(batch, _full_scoring(loaded, batch), strict=True):
            results[row.index] = completion
    assert all(result is not None for result in results), "every prompt answered"
    return [result for result in results if result is not None]


def _row(loaded: LoadedModel, index: int, prompt: Prompt) -> _Row:
    assert prompt.constraint is not None and prompt.constraint.choices, "a choice constraint"
    plan = choice_plan(loaded, prompt.constraint.choices)
    ids = encode_prompt(loaded, prompt)
    head = shared_head(loaded, prompt)
    if tuple(ids[: len(head)]) != head or len(ids) == len(head):
        head = ()  # the prompt's text merged into the template's tokens: no sharing
    tail = ids[len(head) :] + list(plan.forced_ids)
    return _Row(index, head, tail, len(ids), plan)


def _too_long(loaded: LoadedModel, row: _Row) -> bool:
    if loaded.context_length is None:
        return False
    longest = max(len(_choice_ids(loaded, choice)) for choice in row.plan.choices)
    return len(row.head) + len(row.tail) + longest > loaded.context_length


def _batches(rows: list[_Row], batch_size: int, max_tokens: int | None) -> list[list[_Row]]:
    """Batches that share a head, of similar length."""
    by_head: dict[tuple[int, ...], list[_Row]] = {}
    for row in rows:
        by_head.setdefault(row.head, []).append(row)
    batches = []
    for group in by_head.values():
        lengths = [len(row.tail) for row in group]
        for indices in batches_by_length(lengths, batch_size, max_tokens):
            batches.append([group[index] for index in indices])
    return batches


def _single_step(loaded: LoadedModel, batch: list[_Row]) -> list[Completion]:
    started = time.perf_counter()
    last = [[len(row.tail) - 1] for row in batch]
    logprobs = next_token_logprobs(loaded, batch[0].head, [row.tail for row in batch], last)
    latency = (time.perf_counter() - started) / len(batch)
    completions = []
    for row, scores in zip(batch, logprobs.cpu(), strict=True):
        deciding = row.plan.deciding_ids
        assert deciding is not None, "single-step rows have a deciding step"
        # Greedy takes the best single token; a choice reached by several tokens is as likely
        # as all of them together.
        best = [float(scores[list(ids)].max()) for ids in deciding]
        likelihood = [float(torch.logsumexp(scores[list(ids)], dim=0)) for ids in deciding]
        completions.append(_completion(loaded, row, best, likelihood, SINGLE_STEP, latency))
    return completions


def _full_scoring(loaded: LoadedModel, batch: list[_Row]) -> list[Completion]:
    started = time.perf_counter()
    tails, positions, targets = [], [], []
    for row in batch:
        for choice in row.plan.choices:
            ids = _choice_ids(loaded, choice)
            tails.append(row.tail + ids)
            positions.append(list(range(len(row.tail) - 1, len(row.tail) + len(ids) - 1)))
            targets.extend(ids)
    logprobs = next_token_logprobs(loaded, batch[0].head, tails, positions)
    token_scores = logprobs[torch.arange(len(targets)), torch.tensor(targets)].cpu().tolist()
    latency = (time.perf_counter() - started) / len(batch)
    completions, offset = [], 0
    for row in batch:
        sums = []
        for choice in row.plan.choices:
            count = len(_choice_ids(loaded, choice))
            sums.append(math.fsum(token_scores[offset : offset + count]))
            offset += count
        completions.append(_completion(loaded, row, sums, sums, FULL_SCORING, latency))
    return completions


def _completion(
    loaded: LoadedModel,
    row: _Row,
    scores: list[float],
    logprobs: list[float],
    decoding: str,
    latency: float,
) -> Completion:
    best = max(range(len(scores)), key=scores.__getitem__)  # first of equals, as argmax
    choice = row.plan.choices[best]
    return Completion(
        choice,
        prompt_tokens=row.prompt_tokens,
        completion_tokens=len(_choice_ids(loaded, choice)),
        latency_s=latency,
        meta={
            "constraint": "choices",
            "decoding": decoding,
            "choice_logprobs": dict(zip(row.plan.choices, logprobs, strict=True)),
        },
    )


def _choice_ids(loaded: LoadedModel, choice: str) -> list[int]:
    return list(loaded.tokenizer(choice, add_special_tokens=False)["input_ids"])


def choice_plan(loaded: LoadedModel, choices: tuple[str, ...]) -> ChoicePlan:
    """The plan for `choices` on this model's vocabulary, worked out once per process."""
    plan = loaded.choice_plans.get(choices)
    if plan is None:
        plan = plan_choices(token_texts(loaded), choices)
        remember(loaded.choice_plans, choices, plan, limit=4096)
    return plan


def plan_choices(texts: Sequence[str], choices: tuple[str, ...]) -> ChoicePlan:
    """Follow the constrained decode on the vocabulary `texts` (token id -> its text).

    At each step the allowed tokens are those whose text extends the output towards some
    choice. One allowed token: it is forced. Several, each leading to exactly one choice: this
    step decides. Anything else (a choice that is a prefix of another, a token shared by two
    choices, duplicate choices) has no single deciding step.
    """
    fallback = ChoicePlan(choices)
    if len(set(choices)) != len(choices) or any(not choice for choice in choices):
        return fallback
    candidates = [
        (token, text)
        for token, text in enumerate(texts)
        if text and any(text in choice for choice in choices)
    ]
    output, forced = "", []
    while True:
        live = [choice for choice in choices if choice.startswith(output)]
        if output in live:
            return fallback  # one choice is complete while others go on
        allowed = [
            (token, [choice for choice in live if choice.startswith(output + text)])
            for token, text in candidates
            if any(choice.startswith(output + text) for choice in live)
        ]
        if len(allowed) == 1:
            token = allowed[0][0]
            forced.append(token)
            output += texts[token]
            continue
        if not allowed or any(len(leads) != 1 for _, leads in allowed):
            return fallback
        deciding = tuple(
            tuple(token for token, leads in allowed if leads[0] == choice) for choice in choices
        )
        if not all(deciding):
            return fallback
        return ChoicePlan(choices, tuple(forced), deciding)


def token_texts(loaded: LoadedModel) -> list[str]:
    """Each token's text as it reads after other text (so a leading space is kept).

    Special tokens get "": a constrained decode never emits them inside a choice.
    """
    if loaded.token_texts is None:
        tokenizer = loaded.tokenizer
        anchor = list(tokenizer("\n", add_special_tokens=False)["input_ids"])
        anchor_text = tokenizer.decode(anchor)
        special = set(tokenizer.all_special_ids)
        decoded = tokenizer.batch_decode([[*anchor, token] for token in range(len(tokenizer))])
        loaded.token_texts = [
            text[len(anchor_text) :]
            if token not in special and text.startswith(anchor_text)
            else ""
            for token, text in enumerate(decoded)
        ]
    return loaded.token_texts
