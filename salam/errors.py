"""The project's exceptions. Server payloads and bad files become these, raised `from` the cause."""

from __future__ import annotations

from salam.masking import mask_urls_in


class SalamError(Exception):
    """Base of every error salam raises on purpose; the CLI prints it on one line.

    Messages are printed, logged and stored: a URL in one has its password masked."""

    exit_code = 1

    def __init__(self, *args: object) -> None:
        super().__init__(*(mask_urls_in(arg) if isinstance(arg, str) else arg for arg in args))


class DataError(SalamError):
    """Bad input data: names the file, the record and what is wrong."""

    exit_code = 2

    def __init__(self, source: str, problem: str, *, record: str | int | None = None) -> None:
        self.source = source
        self.record = record
        self.problem = problem
        where = source if record is None else f"{source}, record {record}"
        super().__init__(f"{where}: {problem}")


class ConfigError(SalamError):
    """A setting or argument that cannot work (unknown backend, missing URL...)."""

    exit_code = 2


class BrokerUnavailable(SalamError):
    """The broker could not take the chunks; the run is stored and can be resumed."""


class WaitTimedOut(SalamError):
    """Runs still unfinished when a wait ran out; the work goes on without the waiter."""


class BackendError(SalamError):
    """An LLM backend failed. `endpoint` names the server or model."""

    def __init__(self, endpoint: str, message: str) -> None:
        self.endpoint = endpoint
        super().__init__(f"{endpoint}: {message}")


class TransientBackendError(BackendError):
    """Worth retrying with backoff: overloaded, rate limited, 5xx, timeout, connection refused."""


class BackendUnavailable(TransientBackendError):
    """The server cannot be reached at all (connection refused, DNS, timeout on connect)."""


class RequestRejected(BackendError):
    """The server refused this request for good (4xx validation, prompt too long)."""


class FinetuneError(SalamError):
    """A fine-tuning job that cannot run: a base model that cannot be trained, no usable data."""
