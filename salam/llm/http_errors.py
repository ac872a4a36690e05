"""What went wrong talking to an LLM server, as the project's error classes.

Every failure of the `tgi` and `openai` backends and of the probes is sorted here, once:
- transient (429 / overloaded, 408, 5xx, timeouts, dropped connections): `TransientBackendError`,
  worth retrying with backoff;
- unreachable (connection refused, DNS, connect timeout): `BackendUnavailable`, a transient
  error that names the URL;
- rejected (other 4xx, e.g. prompt too long): `RequestRejected`, never retried; the server's
  message is kept so it can become that prompt's `Completion.error`.
"""

from __future__ import annotations

import asyncio
import json

import httpx2
from huggingface_hub.errors import (
    GenerationError,
    IncompleteGenerationError,
    InferenceTimeoutError,
    OverloadedError,
    TextGenerationError,
    ValidationError,
)

from salam.errors import BackendError, BackendUnavailable, RequestRejected, TransientBackendError

_TRANSIENT_STATUSES = frozenset({408, 425, 429})
_MESSAGE_LIMIT = 500


def backend_error(exc: BaseException, endpoint: str) -> BackendError | None:
    """The project's error for a failure talking to `endpoint`; None when it is not one."""
    error = _classify(exc, endpoint)
    if error is not None and error is not exc:
        error.__cause__ = exc
    return error


def _classify(exc: BaseException, endpoint: str) -> BackendError | None:
    if isinstance(exc, BackendError):
        return exc
    if isinstance(exc, TextGenerationError):
        return _classify_tgi_error(exc, endpoint)
    status = _status_code(exc)
    if status is not None:
        return status_error(status, _response_message(exc), endpoint)
    if isinstance(exc, InferenceTimeoutError | httpx2.TimeoutException):
        return _classify_timeout(exc, endpoint)
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return TransientBackendError(endpoint, "no complete answer in time")
    if isinstance(exc, httpx2.ConnectError | ConnectionRefusedError):
        return BackendUnavailable(endpoint, f"cannot connect ({_describe(exc)})")
    if isinstance(exc, httpx2.TransportError | ConnectionError):
        return TransientBackendError(endpoint, f"connection failed ({_describe(exc)})")
    if isinstance(exc, json.JSONDecodeError):
        return BackendError(endpoint, f"the answer is not JSON ({exc})")
    return None


def _classify_tgi_error(exc: TextGenerationError, endpoint: str) -> BackendError:
    message = _shorten(str(exc)) or type(exc).__name__
    if isinstance(exc, ValidationError):
        return RequestRejected(endpoint, message)
    if isinstance(exc, OverloadedError | GenerationError | IncompleteGenerationError):
        return TransientBackendError(endpoint, message)
    status = _status_code(exc.__cause__) if exc.__cause__ else None
    if status is not None:
        return status_error(status, message, endpoint)
    return TransientBackendError(endpoint, message)


def _classify_timeout(exc: BaseException, endpoint: str) -> BackendError:
    cause = exc if isinstance(exc, httpx2.TimeoutException) else exc.__cause__
    if isinstance(cause, httpx2.ConnectTimeout | httpx2.PoolTimeout):
        return BackendUnavailable(endpoint, "timed out connecting")
    return TransientBackendError(endpoint, "timed out waiting for the answer")


def status_error(status: int, message: str, endpoint: str) -> BackendError:
    """The error for an HTTP error status: 408/429/5xx are transient, other 4xx final."""
    text = f"HTTP {status}: {message}" if message else f"HTTP {status}"
    if status in _TRANSIENT_STATUSES or status >= 500:
        return TransientBackendError(endpoint, text)
    if 400 <= status < 500:
        return RequestRejected(endpoint, text)
    return BackendError(endpoint, text)


def _status_code(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def _response_message(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    try:
        text = str(response.text) if response is not None else ""
    except (httpx2.ResponseNotRead, UnicodeDecodeError):
        text = ""
    return server_message(text) or _shorten(str(exc))


def server_message(body: str) -> str:
    """The human part of an error body, whichever server wrote it.

    TGI: `{"error": "...", "error_type": "..."}`; OpenAI and llama.cpp:
    `{"error": {"message": "..."}}`; vLLM (older): `{"message": "..."}`; FastAPI:
    `{"detail": ...}`. Anything else is returned as text, shortened.
    """
    try:
        payload = json.loads(body)
    except ValueError:
        return _shorten(body)
    if isinstance(payload, dict):
        for key in ("error", "message", "detail"):
            value = payload.get(key)
            if isinstance(value, dict):
                value = value.get("message", value)
            if value:
                return _shorten(value if isinstance(value, str) else json.dumps(value))
    return _shorten(body)


def _describe(exc: BaseException) -> str:
    return _shorten(str(exc)) or type(exc).__name__


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 1] + "…"
