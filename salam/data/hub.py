"""Fetching a named dataset from the Hugging Face hub when it is not on disk.

Needs the optional `datasets` package (`pip install 'salam[hub]'`). The hub is probed with a
short TCP connect first, so that a machine without network fails in seconds rather than after
the HTTP client's retries; with HF_HUB_OFFLINE=1 only the local `datasets` cache is read.
"""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlparse

PROBE_TIMEOUT_S = 3.0


class HubUnavailable(Exception):
    """The hub copy cannot be had; the message says why. Callers turn it into a DataError."""


def fetch_rows(repo: str, config: str, split: str) -> list[dict[str, Any]]:
    """Rows of one config and split of a hub dataset, as plain dicts."""
    try:
        import datasets
    except ImportError as err:
        raise HubUnavailable("the optional 'datasets' package is not installed") from err
    if not hub_is_offline():
        probe_hub()
    try:
        table = datasets.load_dataset(repo, config, split=split)
    except Exception as err:  # any failure (network, missing config, format) means "not there"
        raise HubUnavailable(f"{repo} ({config}): {type(err).__name__}: {err}") from err
    return [dict(row) for row in table]


def hub_is_offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def probe_hub() -> None:
    from huggingface_hub import constants

    endpoint = urlparse(constants.ENDPOINT)
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S).close()
    except OSError as err:
        raise HubUnavailable(f"{constants.ENDPOINT} cannot be reached ({err})") from err
