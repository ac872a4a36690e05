"""The `openai` backend: `/v1/chat/completions` on TGI, vLLM, SGLang or a llama.cpp server.

The server applies the model's chat template to `[system?, user]` messages.

Servers disagree on how to constrain the output; `SALAM_OPENAI_CONSTRAINT` picks the form.
Answer choices are always sent as the JSON schema `{"type": "string", "enum": labels}`
(except to TGI, which takes a regex): the model then writes a JSON string (`"(A)"`), which is
decoded back to the label. That is the one form every server below reads the same way, where
choice-specific extensions differ (vLLM's `guided_choice`, SGLang's `regex`, llama.cpp's GBNF
`grammar`).

- `tgi` (TGI >= 1.4): `{"type": "regex", "value": ...}` for choices and
  `{"type": "json", "value": schema}` for the study assistant's JSON.
- `json_schema` (vLLM, SGLang, llama.cpp's `llama-server`): OpenAI's
  `{"type": "json_schema", "json_schema": {"name": ..., "schema": ...}}`.
- `json_object` (llama-cpp-python's `llama_cpp.server`, which refuses `json_schema`; also read
  by `llama-server`): `{"type": "json_object", "schema": ...}`.
- `none`: nothing is constrained; the grader extracts the option, the SA parser the JSON.
- `auto`: `tgi` when `GET /info` answers with a `model_id` (only TGI has that route), else
  `json_schema`, switching to `json_object` for good the first time the server rejects a
  `json_schema` response format. Decided once per backend object.

The request is posted directly rather than through `huggingface_hub`'s `chat_completion`:
for a URL endpoint that method rewrites a `json_schema` response format into TGI's
`{"type": "json_object", "value": ...}` and fills a missing model with `"dummy"`, neither of
which vLLM or llama.cpp understands.

`model` in the request: TGI reads it as the LoRA adapter to use (`"tgi"` means none); vLLM
serves adapters under their own model names. So the adapter goes there when set, else the
configured model, else the first model `/v1/models` lists.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import httpx2

from salam.errors import BackendError, BackendUnavailable, ConfigError
from salam.llm.base import Completion, Constraint, GenerationParams, Prompt
from salam.llm.http import Endpoint, HTTPBackend
from salam.llm.probe import afetch_json, atgi_info, fetch_json
from salam.llm.role import RoleConfig
from salam.llm.vllm_lora import register_adapter
from salam.settings import Settings

ConstraintStyle = Literal["auto", "tgi", "json_schema", "json_object", "none"]
ResolvedStyle = Literal["tgi", "json_schema", "json_object", "none"]
STYLES = ("auto", "tgi", "json_schema", "json_object", "none")
CHAT_ROUTE = "/v1/chat/completions"
MODELS_ROUTE = "/v1/models"
TGI_DEFAULT_MODEL = "tgi"


class OpenAICompatLLM(HTTPBackend[httpx2.AsyncClient]):
    name = "openai"

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        model: str = "",
        adapter: str | None = None,
        constraint_style: ConstraintStyle = "auto",
        register_adapter_from: str | None = None,
    ) -> None:
        super().__init__(endpoint)
        if constraint_style not in STYLES:
            raise ConfigError(f"unknown constraint style {constraint_style!r}")
        self.adapter = adapter or None
        # vLLM loads adapters at run time: register this folder (as the server sees it) first.
        self.register_adapter_from = register_adapter_from if self.adapter else None
        self._adapter_registered = False
        self.constraint_style: ConstraintStyle = constraint_style
        self._model = model or None
        self._style: ResolvedStyle | None = None if constraint_style == "auto" else constraint_style

    @classmethod
    def from_settings(cls, config: RoleConfig, settings: Settings) -> OpenAICompatLLM:
        return cls(
            Endpoint.from_settings(config.require_url(), settings),
            model=config.model,
            adapter=config.adapter,
            constraint_style=settings.openai_constraint,
            register_adapter_from=_server_adapter_path(config, settings),
        )

    @property
    def model_id(self) -> str:
        """The configured model, else the first one the server lists; `@adapter` appended."""
        if self._model is None:
            self._model = first_listed_model(fetch_models_quietly(self.endpoint))
        base = self._model or self.endpoint.url
        return f"{base}@{self.adapter}" if self.adapter else base

    @property
    def style(self) -> ResolvedStyle | None:
        """The constraint form in use; None until `auto` has asked the server."""
        return self._style

    async def _prepare(self) -> None:
        if self.register_adapter_from and self.adapter and not self._adapter_registered:
            await register_adapter(self.endpoint, self.adapter, self.register_adapter_from)
            self._adapter_registered = True
        if self._style is None:
            self._style = "tgi" if await atgi_info(self.endpoint) is not None else "json_schema"
        if self._model is None and self._style != "tgi" and not self.adapter:
            self._model = first_listed_model(await _listed_models(self.endpoint))

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[httpx2.AsyncClient]:
        async with httpx2.AsyncClient(
            timeout=self.endpoint.http_timeout(), headers=self.endpoint.auth_headers()
        ) as client:
            yield client

    async def _complete(
        self, session: httpx2.AsyncClient, prompt: Prompt, params: GenerationParams
    ) -> Completion:
        started = time.perf_counter()
        style = self._style or "json_schema"
        response = await self._post(session, prompt, params, style)
        if style == "json_schema" and self._may_fall_back(prompt, response):
            self._style = style = "json_object"
            response = await self._post(session, prompt, params, style)
        response.raise_for_status()
        completion = parse_chat_response(response.json(), self.endpoint.url)
        if style not in ("tgi", "none") and prompt.constraint and prompt.constraint.choices:
            completion = with_decoded_choice(completion)
        return replace(completion, latency_s=time.perf_counter() - started)

    async def _post(
        self,
        session: httpx2.AsyncClient,
        prompt: Prompt,
        params: GenerationParams,
        style: ResolvedStyle,
    ) -> httpx2.Response:
        payload = chat_payload(prompt, params, model=self._request_model(style), style=style)
        return await session.post(self.endpoint.url + CHAT_ROUTE, json=payload)

    def _may_fall_back(self, prompt: Prompt, response: httpx2.Response) -> bool:
        """Whether `auto` should retry this request with `json_object` (see the module doc)."""
        return (
            self.constraint_style == "auto"
            and prompt.constraint is not None
            # llama-cpp-python reports its request validation failures as 500.
            and response.status_code in (400, 422, 500)
            and "response_format" in response.text
        )

    def _request_model(self, style: ResolvedStyle) -> str | None:
        if self.adapter:
            return self.adapter
        if style == "tgi":
            return TGI_DEFAULT_MODEL
        return self._model


def _server_adapter_path(config: RoleConfig, settings: Settings) -> str | None:
    """The adapter folder as a vLLM server sees it (`SALAM_SA_SERVER_ADAPTER_DIR` in place of
    `SALAM_FINETUNE_DIR`), when the SA's adapters are registered at run time."""
    if settings.sa_lora_runtime != "vllm" or not config.adapter_path:
        return None
    if settings.sa_server_adapter_dir is None:
        return config.adapter_path
    local, path = settings.resolved_finetune_dir, Path(config.adapter_path)
    inside = path.relative_to(local) if path.is_relative_to(local) else Path(path.name)
    return str(PurePosixPath(settings.sa_server_adapter_dir) / inside.as_posix())


def chat_payload(
    prompt: Prompt, params: GenerationParams, *, model: str | None, style: ResolvedStyle
) -> dict[str, Any]:
    """The `/v1/chat/completions` body for one prompt."""
    payload: dict[str, Any] = {
        "messages": chat_messages(prompt),
        "max_tokens": params.max_new_tokens,
        # 0 is greedy on every one of these servers (TGI turns it into do_sample=false).
        "temperature": 0.0 if params.greedy else params.temperature,
        "stream": False,
    }
    if model:
        payload["model"] = model
    # TGI refuses a top_p of 1 or more; below 1 every server reads it the same.
    if params.top_p is not None and 0.0 < params.top_p < 1.0:
        payload["top_p"] = params.top_p
    # top_k is not in OpenAI's API; vLLM, SGLang and llama.cpp accept it, TGI's chat route not.
    if params.top_k is not None and not params.greedy and style != "tgi":
        payload["top_k"] = params.top_k
    if params.seed is not None:
        payload["seed"] = params.seed
    if params.stop:
        payload["stop"] = list(params.stop)
    response_format = constraint_format(prompt.constraint, style)
    if response_format is not None:
        payload["response_format"] = response_format
    return payload


def chat_messages(prompt: Prompt) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": prompt.system}] if prompt.system else []
    return [*messages, {"role": "user", "content": prompt.text}]


def constraint_format(constraint: Constraint | None, style: ResolvedStyle) -> dict[str, Any] | None:
    """The `response_format` that expresses `constraint` to a server of `style`."""
    if constraint is None or style == "none":
        return None
    if constraint.choices and style == "tgi":
        return {"type": "regex", "value": constraint.regex}
    if constraint.choices:
        return _schema_format(style, "answer", {"type": "string", "enum": list(constraint.choices)})
    if constraint.json_schema is None:
        return None
    if style == "tgi":
        return {"type": "json", "value": constraint.json_schema}
    return _schema_format(style, "response", constraint.json_schema)


def _schema_format(style: ResolvedStyle, name: str, schema: dict[str, Any]) -> dict[str, Any]:
    if style == "json_object":
        return {"type": "json_object", "schema": schema}
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema}}


def decode_choice(text: str) -> str:
    """`"(A)"` (a JSON string, as a string-enum schema makes the model write it) -> `(A)`."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, str) else text


def with_decoded_choice(completion: Completion) -> Completion:
    label = decode_choice(completion.text)
    if label == completion.text:
        return completion
    return replace(completion, text=label, meta={**completion.meta, "raw_text": completion.text})


def parse_chat_response(body: Any, endpoint: str) -> Completion:
    """Text, token counts and finish reason of a chat completion; BackendError if malformed."""
    try:
        choice = body["choices"][0]
        content = choice["message"].get("content")
    except (KeyError, IndexError, TypeError, AttributeError) as err:
        raise BackendError(endpoint, f"unexpected chat completion: {str(body)[:200]}") from err
    usage = body.get("usage") or {}
    return Completion(
        text=content or "",
        prompt_tokens=usage.get("prompt_tokens"),
        completion_tokens=usage.get("completion_tokens"),
        meta={"finish_reason": choice.get("finish_reason"), "model": body.get("model")},
    )


def first_listed_model(listing: Any) -> str | None:
    """The first id in an OpenAI `/v1/models` listing (`{"data": [{"id": ...}]}`)."""
    if not isinstance(listing, dict):
        return None
    models = listing.get("data")
    if isinstance(models, list) and models and isinstance(models[0], dict):
        model_id = models[0].get("id")
        return str(model_id) if model_id else None
    return None


def fetch_models_quietly(endpoint: Endpoint) -> Any:
    try:
        return fetch_json(endpoint, MODELS_ROUTE)
    except BackendError:
        return None


async def _listed_models(endpoint: Endpoint) -> Any:
    """`/v1/models`, or None when the server does not list them (the model is optional)."""
    try:
        return await afetch_json(endpoint, MODELS_ROUTE)
    except BackendUnavailable:
        raise
    except BackendError:
        return None
