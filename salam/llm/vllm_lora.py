"""vLLM serves LoRA adapters loaded at run time: `POST /v1/load_lora_adapter` with
`{"lora_name", "lora_path"}` (the server needs `VLLM_ALLOW_RUNTIME_LORA_UPDATING=True`), after
which the adapter is a model of its own name in `/v1/chat/completions`. A study-assistant
version is registered once per process, before its first request."""

from __future__ import annotations

import httpx2

from salam.errors import BackendError
from salam.llm.http import Endpoint
from salam.llm.http_errors import backend_error, server_message, status_error

LOAD_ROUTE = "/v1/load_lora_adapter"


def lora_request(name: str, path: str) -> dict[str, str]:
    return {"lora_name": name, "lora_path": path}


async def register_adapter(endpoint: Endpoint, name: str, path: str) -> None:
    """Ask the server to load the adapter; one it already holds under `name` is fine."""
    try:
        async with httpx2.AsyncClient(
            timeout=endpoint.http_timeout(), headers=endpoint.auth_headers()
        ) as client:
            response = await client.post(endpoint.url + LOAD_ROUTE, json=lora_request(name, path))
    except Exception as exc:
        error = backend_error(exc, endpoint.url)
        if error is None:
            raise
        raise error from exc
    if response.status_code == 200:
        return
    message = server_message(response.text)
    if response.status_code == 400 and "already" in message.lower():
        return
    if response.status_code == 404:
        raise BackendError(
            endpoint.url,
            f"{LOAD_ROUTE} is not served: start vLLM with --enable-lora and "
            "VLLM_ALLOW_RUNTIME_LORA_UPDATING=True, or unset SALAM_SA_LORA_RUNTIME",
        )
    raise status_error(response.status_code, f"loading adapter {name}: {message}", endpoint.url)
