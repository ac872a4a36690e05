"""The `dummy` backend: NOT a model. Canned, deterministic answers for plumbing tests and for
measuring the job system's own overhead.

Each output is picked by a hash of (seed, prompt text), so the same prompt always gets the same
output and different prompts spread over the options. It honours constraints: one of the
choices; a JSON object for a schema (`{"reason", "guideline"}` with generic text that names no
option); otherwise a short sentence naming one label of the prompt's "Options:" block.

A question may script what happens to it, for tests of the question life cycle: a
directive `[dummy main=C,B sa=junk]` anywhere in its text says
- `main=…`: the main LLM's output on a prompt that shows n retrieved guidelines is the n-th
  item (the last one from then on): a label (`B` gives "(B)"), `empty` (no text), `error`
  (the backend fails for good) or `crash` (the process kills itself, as a worker that dies);
- `sa=…`: the study assistant's output: `error`, `junk` (not JSON) or `crash`;
- `down-until=T`: until the Unix time T, every call about the question fails as a server
  that is down would (a transient failure, worth retrying).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import signal
import time
from collections.abc import Sequence
from typing import Any

from salam.llm.base import LLM, Completion, Constraint, GenerationParams, Prompt
from salam.llm.role import RoleConfig
from salam.settings import Settings

_OPTION_LINE = re.compile(r"^\(([A-Z])\)", re.MULTILINE)
_SCRIPT = re.compile(r"\[dummy ([^\]]*)\]")
# The exam prompt's heading over retrieved guidelines (salam.prompts), one numbered line each.
_SHOWN_GUIDELINES = re.compile(r"^Guidelines from past mistakes:\n((?:\d+\. .*\n?)+)", re.MULTILINE)
SCRIPTED_ERROR = "dummy: scripted backend failure"
SCRIPTED_OUTAGE = "dummy: scripted outage (connection refused)"
_META = {"backend": "dummy"}

# Generic on purpose: no letter on its own and no option text, so none reads as an answer.
_REASONS = (
    "The question was read too quickly and its key detail was missed.",
    "The answer followed a familiar pattern instead of the facts given in the question.",
    "The wording of the question was taken at face value without checking each step.",
    "The model relied on an assumption that the question does not support.",
)
_GUIDELINES = (
    "Read the whole question again and check every option against the facts it states.",
    "Work through the question step by step before choosing an answer.",
    "Answer only from what the question says; do not rely on stereotypes or guesses.",
    "When the question gives too little information, prefer the option that says so.",
)
_FREE_TEXT = ("I am not sure.", "It depends on the details.", "Let me think about it.")


class DummyLLM(LLM):
    """Deterministic canned outputs; `delay_s` is slept once per call to mimic a server."""

    name = "dummy"

    def __init__(self, *, seed: int = 0, delay_s: float = 0.0) -> None:
        self.seed = seed
        self.delay_s = delay_s

    @classmethod
    def from_settings(cls, config: RoleConfig, settings: Settings) -> DummyLLM:
        return cls(seed=settings.seed, delay_s=settings.dummy_delay)

    @property
    def model_id(self) -> str:
        return "dummy"

    def generate(self, prompts: Sequence[Prompt], params: GenerationParams) -> list[Completion]:
        if self.delay_s > 0:
            time.sleep(self.delay_s)
        return [self._complete(prompt, params) for prompt in prompts]

    async def agenerate(
        self, prompts: Sequence[Prompt], params: GenerationParams
    ) -> list[Completion]:
        # No thread: the dummy is used to measure overhead, and a thread hop would dominate.
        if self.delay_s > 0:
            await asyncio.sleep(self.delay_s)
        return [self._complete(prompt, params) for prompt in prompts]

    def _complete(self, prompt: Prompt, params: GenerationParams) -> Completion:
        scripted = _scripted_completion(prompt)
        if scripted is not None:
            return scripted
        pick = _pick(self.seed, prompt.text)
        text = _output(prompt.constraint or Constraint(), prompt.text, pick)
        if not (prompt.constraint and prompt.constraint.choices):
            text = _cut_at_stop(text, params.stop)
        return Completion(
            text,
            prompt_tokens=len(prompt.text.split()),
            completion_tokens=len(text.split()),
            meta={"backend": "dummy"},
        )


def _scripted_completion(prompt: Prompt) -> Completion | None:
    """The completion the prompt's question scripts for this role, if it scripts one."""
    found = _SCRIPT.search(prompt.text)
    if found is None:
        return None
    script = dict(item.partition("=")[::2] for item in found.group(1).split())
    if time.time() < float(script.get("down-until", 0)):
        return Completion("", error=SCRIPTED_OUTAGE, transient=True, meta=dict(_META))
    assistant = prompt.constraint is not None and prompt.constraint.json_schema is not None
    output = script.get("sa") if assistant else _main_output(script, prompt.text)
    if output is None:
        return None
    if output == "crash":
        os.kill(os.getpid(), signal.SIGKILL)
    if output == "error":
        return Completion("", error=SCRIPTED_ERROR, meta=dict(_META))
    if assistant:
        return Completion("I would rather not say.", meta=dict(_META)) if output == "junk" else None
    return Completion("" if output == "empty" else f"({output})", meta=dict(_META))


def _main_output(script: dict[str, str], text: str) -> str | None:
    if "main" not in script:
        return None
    outputs = script["main"].split(",")
    shown = _SHOWN_GUIDELINES.search(text)
    guidelines = len(shown.group(1).strip().splitlines()) if shown else 0
    return outputs[min(guidelines, len(outputs) - 1)]


def _pick(seed: int, text: str) -> int:
    digest = hashlib.blake2b(f"{seed}\0{text}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _output(constraint: Constraint, text: str, pick: int) -> str:
    if constraint.choices:
        return constraint.choices[pick % len(constraint.choices)]
    if constraint.json_schema is not None:
        return json.dumps(_json_object(constraint.json_schema, pick))
    labels = _option_labels(text)
    if labels:
        return f"The answer is ({labels[pick % len(labels)]})."
    return _FREE_TEXT[pick % len(_FREE_TEXT)]


def _option_labels(text: str) -> list[str]:
    _, found, options = text.rpartition("Options:")
    return _OPTION_LINE.findall(options) if found else []


def _json_object(schema: dict[str, Any], pick: int) -> dict[str, Any]:
    """An object with every property of `schema`: reason and guideline get generic advice."""
    properties = schema.get("properties") or {"reason": {}, "guideline": {}}
    return {key: _json_value(key, spec, pick) for key, spec in properties.items()}


def _json_value(key: str, spec: dict[str, Any], pick: int) -> Any:
    kind = spec.get("type", "string")
    if kind in ("integer", "number"):
        return 0
    if kind == "boolean":
        return False
    if kind == "array":
        return []
    if kind == "object":
        return {}
    texts = _GUIDELINES if key == "guideline" else _REASONS
    return texts[pick % len(texts)]


def _cut_at_stop(text: str, stops: tuple[str, ...]) -> str:
    cuts = [text.find(stop) for stop in stops if stop and stop in text]
    return text[: min(cuts)] if cuts else text
