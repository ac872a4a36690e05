"""The one table of LLM backends: the name in `SALAM_MAIN_BACKEND` or `SALAM_SA_BACKEND`, and
the class that serves it.

Classes are named by import path, as lm-evaluation-harness's lazy model mapping names them, and
imported on first lookup: a worker that only talks HTTP never imports torch, and an unknown
name can be reported with every known one without importing any. Each class builds itself
from the settings (`LLM.from_settings`), so adding a backend is one class, one line here and
its name in the settings' `BackendName`, which a test keeps in step with this table.
"""

from __future__ import annotations

import importlib

from salam.errors import ConfigError
from salam.llm.base import LLM
from salam.llm.role import RoleConfig
from salam.settings import Settings

BACKENDS: dict[str, str] = {
    "local": "salam.llm.local:LocalLLM",
    "dummy": "salam.llm.dummy:DummyLLM",
    "tgi": "salam.llm.tgi:TGILLM",
    "openai": "salam.llm.openai_compat:OpenAICompatLLM",
}


def get_backend_class(name: str) -> type[LLM]:
    """The class registered as `name`, its module imported now if it was not yet."""
    target = BACKENDS.get(name)
    if target is None:
        raise ConfigError(f"unknown backend {name!r}: choose {', '.join(BACKENDS)}")
    module_name, _, class_name = target.partition(":")
    backend: type[LLM] = getattr(importlib.import_module(module_name), class_name)
    assert issubclass(backend, LLM), f"{target} is not an LLM"
    assert backend.name == name, f"{target} calls itself {backend.name!r}, registered as {name!r}"
    return backend


def build_llm(config: RoleConfig, settings: Settings) -> LLM:
    """The backend `config` names, built for its role."""
    return get_backend_class(config.backend).from_settings(config, settings)
