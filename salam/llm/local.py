"""The `local` backend: a transformers model in this process, SmolLM2-135M-Instruct by default.

Prompts constrained to choices take the one-forward-pass path of `local_choice`. Prompts with
a JSON schema are sampled under its grammar (`local_grammar`), so their output always parses.
Everything else is free generation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from salam.errors import ConfigError
from salam.llm.base import LLM, Completion, GenerationParams, Prompt
from salam.llm.local_choice import answer_choices
from salam.llm.local_generate import generate_texts
from salam.llm.local_grammar import schema_grammar
from salam.llm.local_hardware import DTYPES
from salam.llm.local_model import LoadedModel, load_model
from salam.llm.model_files import locate_model
from salam.llm.role import RoleConfig
from salam.settings import Settings

JSON_SCHEMA = "json_schema"


class LocalLLM(LLM):
    """Batched generation with a model loaded on first use, once per process.

    `model`: None or "" for the bundled SmolLM2 GGUF, a `.gguf` path, or a transformers model
    folder. `device`: auto, cpu, cuda, cuda:N, mps. `dtype`: auto (chosen by the hardware, see
    `local_hardware`), float32, bfloat16, float16. `batch_size`: prompts per forward pass.
    `adapter`: a LoRA adapter folder (a fine-tuned study-assistant version) merged into it.

    Choice-constrained prompts are always answered greedily: sampling parameters apply to free
    and JSON-schema generation only.
    """

    name = "local"

    def __init__(
        self,
        model: str | None = None,
        *,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 32,
        adapter: str | None = None,
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch size must be at least 1, got {batch_size}")
        if dtype != "auto" and dtype not in DTYPES:
            raise ConfigError(f"unknown dtype {dtype!r}: use auto, {', '.join(DTYPES)}")
        self._files = locate_model(model)
        self._adapter = adapter
        self._device = device
        self._dtype = dtype
        self.batch_size = batch_size

    @classmethod
    def from_settings(cls, config: RoleConfig, settings: Settings) -> LocalLLM:
        return cls(
            config.model or None,
            device=settings.device,
            dtype=settings.dtype,
            batch_size=settings.batch_size,
            adapter=config.adapter_path,
        )

    @property
    def model_id(self) -> str:
        base = self._files.model_id
        return f"{base}@{self._adapter}" if self._adapter else base

    def generate(self, prompts: Sequence[Prompt], params: GenerationParams) -> list[Completion]:
        if not prompts:
            return []
        loaded = load_model(self._files, self._device, self._dtype, self._adapter)
        with loaded.lock:
            return self._generate_loaded(loaded, prompts, params)

    def _generate_loaded(
        self, loaded: LoadedModel, prompts: Sequence[Prompt], params: GenerationParams
    ) -> list[Completion]:
        results: list[Completion | None] = [None] * len(prompts)
        choice = [i for i, prompt in enumerate(prompts) if _has_choices(prompt)]
        rest = [i for i in range(len(prompts)) if not _has_choices(prompts[i])]
        schema = [i for i in rest if _schema(prompts[i]) is not None]
        free = [i for i in rest if _schema(prompts[i]) is None]
        answers = answer_choices(loaded, [prompts[i] for i in choice], self.batch_size)
        for index, completion in zip(choice, answers, strict=True):
            results[index] = completion
        grammars = [
            schema_grammar(_schema(prompts[i]) or {}, params.max_new_tokens) for i in schema
        ]
        constrained = generate_texts(
            loaded, [prompts[i] for i in schema], params, self.batch_size, grammars=grammars
        )
        for index, completion in zip(schema, constrained, strict=True):
            completion.meta["constraint"] = JSON_SCHEMA
            results[index] = completion
        texts = generate_texts(loaded, [prompts[i] for i in free], params, self.batch_size)
        for index, completion in zip(free, texts, strict=True):
            results[index] = completion
        return [result for result in results if result is not None]


def _has_choices(prompt: Prompt) -> bool:
    return prompt.constraint is not None and bool(prompt.constraint.choices)


def _schema(prompt: Prompt) -> dict[str, Any] | None:
    return prompt.constraint.json_schema if prompt.constraint is not None else None
