"""LLM backends, chosen per role (main LLM or study assistant) by settings."""

from __future__ import annotations

from salam.llm.base import LLM, Completion, Constraint, GenerationParams, Prompt
from salam.llm.registry import BACKENDS, build_llm, get_backend_class
from salam.llm.role import Role, RoleConfig
from salam.settings import Settings

__all__ = [
    "BACKENDS",
    "LLM",
    "Completion",
    "Constraint",
    "GenerationParams",
    "Prompt",
    "Role",
    "RoleConfig",
    "build_llm",
    "generation_params",
    "get_backend_class",
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
    """The backend `SALAM_MAIN_BACKEND` or `SALAM_SA_BACKEND` names, built for `role`."""
    return build_llm(RoleConfig.from_settings(role, settings), settings)
