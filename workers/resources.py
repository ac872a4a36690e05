"""What a worker process loads once and keeps: the LLMs and the embedder.

Filled on the first task that needs them, inside the pool process, never in the parent
before it forks (a model loaded there would be copied into every child, and CUDA would
not survive the fork). `worker_process_init` empties the holder in each new child.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from celery.signals import worker_process_init

from salam.embedding import Embedder, load_embedder
from salam.errors import TransientBackendError
from salam.llm import LLM, GenerationParams, RoleConfig, build_llm, generation_params, make_llm
from salam.pipeline import AnalysisResult, AnswerResult, passing_failures
from salam.settings import DEFAULT_EMBEDDER, get_settings

T = TypeVar("T")

_holder: dict[str, Any] = {}
_lock = threading.RLock()  # re-entrant: building one holder entry may need another


@dataclass(frozen=True)
class LoadedLLM:
    llm: LLM
    params: GenerationParams
    backend: str
    version: str | None = None  # the study-assistant version it is


def retry_if_passing(loaded: LoadedLLM, results: Sequence[AnswerResult | AnalysisResult]) -> None:
    """Raise a transient error when some of a chunk's calls failed for a reason that may pass
    (server overloaded, restarting, unreachable): the task retries the chunk within its time
    budget, and nothing of it is written, so no question is failed for a passing reason."""
    failures = passing_failures(results)
    if failures:
        raise TransientBackendError(
            loaded.llm.model_id,
            f"{len(failures)} of {len(results)} calls failed for a passing reason: {failures[0]}",
        )


def main_llm() -> LoadedLLM:
    return _once("main", lambda: _load_llm("main"))


def assistant_llm() -> LoadedLLM:
    """The study assistant at its active version (read per call, so a promotion or rollback
    needs no restart); one backend per version, the one before closed when it changes."""
    from workers.assistant_version import active_assistant

    version = active_assistant()
    key = f"sa:{version.name}"
    if key not in _holder:
        _forget(lambda name: name.startswith("sa:") and name != key)
    return _once(key, lambda: _load_assistant(version.name, version.adapter_path))


def embedder() -> Embedder:
    return _once("embedder", _load_embedder)


def embedder_id() -> str:
    """Names the embedder next to each stored vector, so a different one re-embeds."""
    return get_settings().embedder or DEFAULT_EMBEDDER


def cached(name: str, build: Callable[[], T]) -> T:
    """Any other per-process object (mistake memories, run plans). An exception from `build`
    leaves nothing cached."""
    return _once(name, build)


def _once(name: str, build: Callable[[], T]) -> T:
    if name not in _holder:
        with _lock:
            if name not in _holder:
                _holder[name] = build()
    value: T = _holder[name]
    return value


def _load_llm(role: Literal["main", "sa"]) -> LoadedLLM:
    settings = get_settings()
    backend = settings.main_backend if role == "main" else settings.sa_backend
    return LoadedLLM(make_llm(role, settings), generation_params(role, settings), backend)


def _load_assistant(version: str, adapter_path: str | None) -> LoadedLLM:
    settings = get_settings()
    config = RoleConfig.from_settings("sa", settings)
    if adapter_path is not None:
        config = config.with_adapter(version, adapter_path)
    llm = build_llm(config, settings)
    return LoadedLLM(llm, generation_params("sa", settings), settings.sa_backend, version)


def _forget(unwanted: Callable[[str], bool]) -> None:
    with _lock:
        for name in [name for name in _holder if unwanted(name)]:
            _close(_holder.pop(name))


def _load_embedder() -> Embedder:
    return load_embedder(get_settings().embedder)


@worker_process_init.connect
def _forget_inherited(**_kwargs: Any) -> None:
    _holder.clear()  # anything here belongs to the parent; closing it would close its sockets


def clear() -> None:
    """Drop everything loaded (a new pool process, or tests)."""
    _forget(lambda _name: True)


def _close(value: object) -> None:
    close = getattr(getattr(value, "llm", None), "close", None)
    if close is not None:
        close()
