"""Passwords out of URLs before they are printed, logged or stored.

Broker, database and LLM server URLs may carry a login (`redis://:secret@host:6379/0`,
`postgresql://salam:secret@db/salam`, `https://user:token@llm.example/v1`) or a secret in
their query (`?password=secret`). `mask_url` hides those parts of one URL; `mask_urls_in` does
the same for every URL inside a message, so an error or log line can be masked as a whole;
`mask_urls_in_values` masks a settings dump before it is stored.
The user name stays: it helps to tell which login failed, and it is not a secret.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MASK = "***"

# scheme://userinfo@ : userinfo runs to the last "@" before the host's end (a password may hold
# an unencoded "@", as it does for Redis and PostgreSQL clients, which also split at the last).
_LOGIN = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^\s/?#\"'<>]*)@")
_SECRET_PARAMETER = re.compile(
    r"(?P<name>[?&;](?:password|passwd|pass|pwd|secret|token|access_token|api_key|apikey)=)"
    r"(?P<value>[^&;#\s\"'<>]+)",
    re.IGNORECASE,
)


def mask_url(url: str) -> str:
    """`url` with its password (and secret query values) replaced by ***."""
    return mask_urls_in(url)


def mask_urls_in(text: str) -> str:
    """`text` with the password of every URL in it replaced by ***; the rest unchanged."""
    if "://" not in text and "=" not in text:
        return text
    masked = _LOGIN.sub(_masked_login, text)
    return _SECRET_PARAMETER.sub(lambda match: match["name"] + MASK, masked)


def mask_urls_in_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a settings dump with every text value masked (URLs in the values only)."""
    return {name: mask_urls_in(v) if isinstance(v, str) else v for name, v in values.items()}


def _masked_login(match: re.Match[str]) -> str:
    user, colon, password = match["userinfo"].partition(":")
    if not colon:
        return match.group(0)  # a user name alone: nothing secret to hide
    if not password:
        return match.group(0)
    return f"{match['scheme']}{user}:{MASK}@"
