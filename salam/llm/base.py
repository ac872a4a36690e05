"""One interface for the main LLM and the study assistant, whatever serves them."""

from __future__ import annotations

import asyncio
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from salam.llm.role import RoleConfig
from salam.settings import Settings


@dataclass(frozen=True)
class Constraint:
    """What the output may look like. Backends honour what they can and ignore the rest.

    `choices`: the whole output must be one of these strings (e.g. "(A)", "(B)", "(C)").
    `json_schema`: the output must be a JSON document matching this schema.
    """

    choices: tuple[str, ...] = ()
    json_schema: dict[str, Any] | None = None

    @property
    def regex(self) -> str | None:
        if not self.choices:
            return None
        return "(" + "|".join(re.escape(choice) for choice in self.choices) + ")"


@dataclass(frozen=True)
class Prompt:
    """A user turn; `system` is optional. Chat backends template it, text backends send it raw."""

    text: str
    system: str | None = None
    constraint: Constraint | None = None


@dataclass(frozen=True)
class GenerationParams:
    max_new_tokens: int = 50
    temperature: float = 0.0  # 0 means greedy
    top_k: int | None = None
    top_p: float | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0


@dataclass(frozen=True)
class Completion:
    """One output. `error` is set, and `text` empty, when the backend gave up on this prompt."""

    text: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float = 0.0
    error: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    # The failure may pass (server overloaded, restarting, unreachable): worth another try later.
    transient: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


class LLM(ABC):
    """`generate` is batched and blocking; `agenerate` is the same for event loops.

    Local backends implement `generate`; HTTP backends implement `agenerate`. Each gets the
    other for free.
    """

    name: str = "llm"

    @classmethod
    def from_settings(cls, config: RoleConfig, settings: Settings) -> LLM:
        """This backend for one role, as the settings describe it.

        Every backend in `salam.llm.registry` says here which settings it reads.
        """
        raise NotImplementedError(f"{cls.__name__} cannot be built from settings")

    @property
    @abstractmethod
    def model_id(self) -> str: ...

    def generate(self, prompts: Sequence[Prompt], params: GenerationParams) -> list[Completion]:
        return asyncio.run(self.agenerate(prompts, params))

    async def agenerate(
        self, prompts: Sequence[Prompt], params: GenerationParams
    ) -> list[Completion]:
        return await asyncio.to_thread(self.generate, prompts, params)

    def close(self) -> None:  # noqa: B027 (an optional hook, not abstract)
        """Release connections or memory; the default holds nothing."""
