"""Short GETs to an LLM server outside the hot path: `/health`, `/v1/models`, and TGI's `/info`.

`/info` is read in one place, `tgi_info`, by the `tgi` backend (to name the served model), the
`openai` backend (to tell TGI from vLLM, SGLang or llama.cpp) and `salam doctor`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx2

from salam.errors import BackendError, TransientBackendError
from salam.llm.http import Endpoint, Failure, with_retries
from salam.llm.http_errors import backend_error

PROBE_TIMEOUT_S = 5.0
INFO_ROUTE = "/info"

T = TypeVar("T")


def fetch(endpoint: Endpoint, path: str, *, timeout_s: float = PROBE_TIMEOUT_S) -> httpx2.Response:
    """GET `path` on the server; a failure or error status raises the mapped `BackendError`.

    Blocking and short: for probes, never for generation.
    """
    timeout = httpx2.Timeout(timeout_s, connect=min(timeout_s, endpoint.connect_timeout_s))
    try:
        response = httpx2.get(endpoint.url + path, headers=endpoint.auth_headers(), timeout=timeout)
        response.raise_for_status()
    except Exception as exc:
        error = backend_error(exc, endpoint.url)
        if error is None:
            raise
        raise error from exc
    return response


def fetch_json(endpoint: Endpoint, path: str, *, timeout_s: float = PROBE_TIMEOUT_S) -> Any:
    """`fetch`, decoded; a body that is not JSON is a `BackendError`."""
    response = fetch(endpoint, path, timeout_s=timeout_s)
    try:
        return response.json()
    except ValueError as err:
        raise BackendError(endpoint.url, f"{path} did not answer JSON") from err


async def afetch_json(endpoint: Endpoint, path: str) -> Any:
    """`fetch_json` for event loops, with the endpoint's retries."""
    return await _with_endpoint_retries(lambda: fetch_json(endpoint, path), endpoint)


@dataclass(frozen=True)
class TGIInfo:
    """What TGI's `/info` says about the model it serves (no other server has the route)."""

    model_id: str | None
    max_input_tokens: int | None = None
    version: str | None = None


def tgi_info(endpoint: Endpoint, *, timeout_s: float = PROBE_TIMEOUT_S) -> TGIInfo | None:
    """TGI's `/info`; None when the server answers without one, so it is not TGI.

    Raises `TransientBackendError` (`BackendUnavailable` included) while the server cannot be
    asked: a server that is down or busy says nothing about what it is.
    """
    try:
        body = fetch_json(endpoint, INFO_ROUTE, timeout_s=timeout_s)
    except TransientBackendError:
        raise
    except BackendError:
        return None
    return parse_tgi_info(body)


async def atgi_info(endpoint: Endpoint) -> TGIInfo | None:
    """`tgi_info` for event loops, with the endpoint's retries."""
    return await _with_endpoint_retries(lambda: tgi_info(endpoint), endpoint)


def parse_tgi_info(body: Any) -> TGIInfo | None:
    """The `/info` body TGI writes (`{"model_id": ..., "max_input_tokens": ..., ...}`), or None."""
    if not isinstance(body, dict) or "model_id" not in body:
        return None
    model_id = body["model_id"]
    max_input_tokens = body.get("max_input_tokens")
    version = body.get("version")
    return TGIInfo(
        model_id=str(model_id) if model_id else None,
        max_input_tokens=max_input_tokens if isinstance(max_input_tokens, int) else None,
        version=str(version) if version else None,
    )


async def _with_endpoint_retries(probe: Callable[[], T], endpoint: Endpoint) -> T:
    """Run the blocking `probe` in a thread, retried as the endpoint says; raises its error."""
    outcome = await with_retries(lambda: asyncio.to_thread(probe), endpoint)
    if isinstance(outcome, Failure):
        raise outcome.error
    return outcome
