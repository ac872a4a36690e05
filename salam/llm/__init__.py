"""LLM backends, chosen per role (main LLM or study assistant) by settings."""

from __future__ import annotations

from typing import Literal

from salam.errors import ConfigError
from salam.llm.base import LLM, Completion, Constraint, GenerationParams, Prompt
from salam.settings import Settings

Role = Literal["main", "sa"]

__all__ = [
    "LLM",
    "Completion",
    "Constraint",
    "GenerationParams",
    "Prompt",
    "Role",
    "generation_params",
    "make_llm",
]


def generation_params(role: Role, settings: Settings) -> GenerationParams:
    """The paper's decoding: main LLM greedy (<= 50 tokens), SA sampled (T=1.0, top-k 50)."""
    if role == "main":
        return GenerationParams(
            max_new_tokens=settings.main_max_new_tokens,
            temperature=settings.main_temperature,
            seed=settings.seed,
        )
    return GenerationParams(
        max_new_tokens=settings.sa_max_new_tokens,
        temperature=settings.sa_temperature,
        top_k=settings.sa_top_k,
        seed=settings.seed,
    )


def make_llm(role: Role, settings: Settings) -> LLM:
    """Build the backend named by `SALAM_MAIN_BACKEND` or `SALAM_SA_BACKEND`.

    Imports are local so a worker that only talks HTTP never imports torch.
    """
    backend = settings.main_backend if role == "main" else settings.sa_backend
    model = settings.main_model if role == "main" else settings.sa_model
    url = settings.main_url if role == "main" else settings.sa_url
    if backend == "dummy":
        from salam.llm.dummy import DummyLLM

        return DummyLLM(seed=settings.seed, delay_s=settings.dummy_delay)
    if backend == "local":
        from salam.llm.local import LocalLLM

        return LocalLLM(
            model or None,
            device=settings.device,
            dtype=settings.dtype,
            batch_size=settings.batch_size,
        )
    if backend in ("tgi", "openai"):
        if not url:
            variable = "SALAM_MAIN_URL" if role == "main" else "SALAM_SA_URL"
            raise ConfigError(f"the {backend} backend for the {role} LLM needs {variable}")
        from salam.llm.http import make_http_llm

        adapter = settings.sa_adapter if role == "sa" else None
        return make_http_llm(backend, url, model=model, adapter=adapter, settings=settings)
    raise ConfigError(f"unknown backend {backend!r}: choose local, dummy, tgi or openai")
