"""What the TGI and OpenAI-compatible backends share: one endpoint, concurrency and retries.

A chunk's prompts are sent at once, at most `request_concurrency` in flight, so the server's
continuous batching sees them together; completions come back in prompt order.

Each failure is sorted by `http_errors.backend_error`: transient ones (unreachable included)
are retried with exponential backoff and full jitter, `request_retries` times; rejected ones
never. A prompt that still fails after its retries gets an empty `Completion` with `error` set,
so one bad prompt does not cost the chunk. Only when every prompt of the call found the server
unreachable does `agenerate` raise `BackendUnavailable`, so the task can retry the whole chunk.

Every attempt is bounded: connecting takes at most `min(10, request_timeout)` seconds and the
whole request `request_timeout` more, so a dead server costs seconds, never a hang.
"""

from __future__ import annotations

import asyncio
import random
import time
from abc import abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import httpx2

from salam.errors import BackendError, BackendUnavailable, ConfigError, TransientBackendError
from salam.llm.base import LLM, Completion, GenerationParams, Prompt
from salam.llm.http_errors import backend_error
from salam.settings import Settings

CONNECT_TIMEOUT_CAP_S = 10.0


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter: attempt n waits uniform(0, min(cap, base * 2**n))."""

    retries: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 20.0

    def delay_s(self, attempt: int) -> float:
        return random.uniform(0.0, min(self.max_delay_s, self.base_delay_s * 2**attempt))


@dataclass(frozen=True)
class Endpoint:
    """One server and how to talk to it."""

    url: str
    api_key: str | None = None
    timeout_s: float = 120.0
    concurrency: int = 16
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ConfigError(f"server URL {self.url!r} must start with http:// or https://")
        # OpenAI-style base URLs often end in /v1; routes are joined to the server's root.
        root = self.url.rstrip("/").removesuffix("/v1")
        object.__setattr__(self, "url", root)

    @classmethod
    def from_settings(cls, url: str, settings: Settings) -> Endpoint:
        return cls(
            url=url,
            api_key=settings.api_key,
            timeout_s=settings.request_timeout,
            concurrency=settings.request_concurrency,
            retry=RetryPolicy(retries=settings.request_retries),
        )

    @property
    def connect_timeout_s(self) -> float:
        return min(CONNECT_TIMEOUT_CAP_S, self.timeout_s)

    @property
    def attempt_deadline_s(self) -> float:
        """The most one attempt may take, whatever the server does with the connection."""
        return self.connect_timeout_s + self.timeout_s

    def http_timeout(self) -> httpx2.Timeout:
        return httpx2.Timeout(self.timeout_s, connect=self.connect_timeout_s)

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}


SessionT = TypeVar("SessionT")


class HTTPBackend(LLM, Generic[SessionT]):
    """An `LLM` whose prompts are independent HTTP requests to one server.

    Subclasses open a session per `agenerate` call (HTTP clients belong to one event loop, and
    `generate` runs each call in a fresh loop) and turn one prompt into one `Completion`.
    """

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint

    @abstractmethod
    def _session(self) -> AbstractAsyncContextManager[SessionT]: ...

    @abstractmethod
    async def _complete(
        self, session: SessionT, prompt: Prompt, params: GenerationParams
    ) -> Completion: ...

    async def _prepare(self) -> None:
        """Learn what is needed about the server before the first request; default nothing."""

    async def agenerate(
        self, prompts: Sequence[Prompt], params: GenerationParams
    ) -> list[Completion]:
        if not prompts:
            return []
        await self._prepare()
        semaphore = asyncio.Semaphore(self.endpoint.concurrency)
        async with self._session() as session:
            outcomes = await asyncio.gather(
                *(self._complete_with_retries(session, semaphore, p, params) for p in prompts)
            )
        return settle(outcomes)

    async def _complete_with_retries(
        self,
        session: SessionT,
        semaphore: asyncio.Semaphore,
        prompt: Prompt,
        params: GenerationParams,
    ) -> Completion | Failure:
        async def attempt() -> Completion:
            # The wait between attempts happens outside the semaphore so other prompts go on.
            async with semaphore:
                return await asyncio.wait_for(
                    self._complete(session, prompt, params), self.endpoint.attempt_deadline_s
                )

        return await with_retries(attempt, self.endpoint)


@dataclass(frozen=True)
class Failure:
    """Why a request gave up, after how many attempts and how long."""

    error: BackendError
    attempts: int
    latency_s: float

    def as_completion(self) -> Completion:
        return Completion(
            text="",
            latency_s=self.latency_s,
            error=str(self.error),
            meta={"error_type": type(self.error).__name__, "attempts": self.attempts},
            transient=isinstance(self.error, TransientBackendError),
        )


T = TypeVar("T")


async def with_retries(call: Callable[[], Awaitable[T]], endpoint: Endpoint) -> T | Failure:
    """`await call()` until it succeeds, fails for good, or runs out of retries.

    Raises only what `backend_error` does not recognise (bugs, cancellation).
    """
    policy = endpoint.retry
    started = time.perf_counter()
    attempt = 0
    while True:
        try:
            return await call()
        except Exception as exc:
            error = backend_error(exc, endpoint.url)
            if error is None:
                raise
            if not isinstance(error, TransientBackendError) or attempt >= policy.retries:
                return Failure(error, attempt + 1, time.perf_counter() - started)
        await asyncio.sleep(policy.delay_s(attempt))
        attempt += 1


def settle(outcomes: Sequence[Completion | Failure]) -> list[Completion]:
    """Completions in prompt order; raises when no prompt reached the server at all."""
    failures = [o.error for o in outcomes if isinstance(o, Failure)]
    if (
        failures
        and len(failures) == len(outcomes)
        and all(isinstance(e, BackendUnavailable) for e in failures)
    ):
        raise failures[0]
    return [o.as_completion() if isinstance(o, Failure) else o for o in outcomes]
