"""The `tgi` backend: text-generation-inference's native `/generate` route.

`/generate` takes raw text: the prompt is sent as written, its system part (if any) first,
and no chat template is applied. For a chat model served by TGI that wants its template,
use the `openai` backend (`/v1/chat/completions`), where the server applies it.

Constraints become TGI grammars: answer choices a regex (`{"type": "regex", "value": ...}`),
the study assistant's JSON a schema (`{"type": "json", "value": schema}`). A LoRA adapter
loaded with `--lora-adapters` is chosen per request by `adapter_id`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from huggingface_hub import AsyncInferenceClient, TextGenerationInputGrammarType

from salam.errors import BackendError
from salam.llm.base import Completion, Constraint, GenerationParams, Prompt
from salam.llm.http import Endpoint, HTTPBackend
from salam.llm.probe import tgi_info
from salam.llm.role import RoleConfig
from salam.settings import Settings


class TGILLM(HTTPBackend[AsyncInferenceClient]):
    name = "tgi"

    def __init__(self, endpoint: Endpoint, *, model: str = "", adapter: str | None = None) -> None:
        super().__init__(endpoint)
        self.adapter = adapter or None
        self._model = model or None

    @classmethod
    def from_settings(cls, config: RoleConfig, settings: Settings) -> TGILLM:
        endpoint = Endpoint.from_settings(config.require_url(), settings)
        return cls(endpoint, model=config.model, adapter=config.adapter)

    @property
    def model_id(self) -> str:
        """The configured model, else the one the server's `/info` names; `@adapter` appended."""
        if self._model is None:
            self._model = served_model_id(self.endpoint)
        base = self._model or self.endpoint.url
        return f"{base}@{self.adapter}" if self.adapter else base

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[AsyncInferenceClient]:
        # The client hands `timeout` to httpx2 unchanged; a Timeout gives connecting its own,
        # shorter limit than generating, so a dead server is noticed in seconds.
        timeout: Any = self.endpoint.http_timeout()
        # With no key of ours the client would send the user's Hugging Face token to this
        # server; a None header is dropped before sending.
        no_token: dict[str, Any] = {} if self.endpoint.api_key else {"authorization": None}
        client = AsyncInferenceClient(
            base_url=self.endpoint.url + "/generate",
            token=self.endpoint.api_key,
            timeout=timeout,
            headers=no_token,
        )
        try:
            yield client
        finally:
            await client.close()  # type: ignore[no-untyped-call]

    async def _complete(
        self, session: AsyncInferenceClient, prompt: Prompt, params: GenerationParams
    ) -> Completion:
        started = time.perf_counter()
        output = await session.text_generation(
            prompt_text(prompt),
            details=True,
            grammar=tgi_grammar(prompt.constraint),
            adapter_id=self.adapter,
            **sampling_parameters(params),
        )
        details = output.details
        return Completion(
            text=output.generated_text,
            completion_tokens=details.generated_tokens if details else None,
            latency_s=time.perf_counter() - started,
            meta={"finish_reason": details.finish_reason if details else None},
        )


def prompt_text(prompt: Prompt) -> str:
    """The raw text `/generate` gets: the system part, a blank line, then the prompt."""
    return f"{prompt.system}\n\n{prompt.text}" if prompt.system else prompt.text


def tgi_grammar(constraint: Constraint | None) -> TextGenerationInputGrammarType | None:
    if constraint is None:
        return None
    if constraint.regex is not None:
        return TextGenerationInputGrammarType(type="regex", value=constraint.regex)
    if constraint.json_schema is not None:
        return TextGenerationInputGrammarType(type="json", value=constraint.json_schema)
    return None


def sampling_parameters(params: GenerationParams) -> dict[str, Any]:
    """`/generate` parameters for `params`.

    TGI refuses `temperature: 0` and `top_p` outside (0, 1): greedy is `do_sample: false` with
    no temperature, and a `top_p` of 1 (no nucleus cut) is left out.
    """
    sampled = not params.greedy
    top_p = params.top_p if params.top_p is not None and 0.0 < params.top_p < 1.0 else None
    return {
        "max_new_tokens": params.max_new_tokens,
        "do_sample": sampled,
        "temperature": params.temperature if sampled else None,
        "top_k": params.top_k if sampled else None,
        "top_p": top_p if sampled else None,
        "seed": params.seed,
        "stop": list(params.stop) or None,
    }


def served_model_id(endpoint: Endpoint) -> str | None:
    """The `model_id` in TGI's `/info`, or None when the server cannot say (now)."""
    try:
        info = tgi_info(endpoint)
    except BackendError:
        return None
    return info.model_id if info else None
