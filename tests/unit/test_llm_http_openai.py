"""The `openai` backend against a loopback server speaking `/v1/chat/completions`.

Checks the request body per constraint style (TGI's grammar shapes, OpenAI's `json_schema`),
the reading of the OpenAI response, and the error shapes these servers send.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_llm_http import (
    GREEDY,
    SCHEMA,
    LoopbackServer,
    Received,
    Reply,
    endpoint_for,
)

from salam.errors import BackendError, ConfigError
from salam.llm.base import Constraint, GenerationParams, Prompt
from salam.llm.openai_compat import OpenAICompatLLM, constraint_format
from salam.settings import Settings

CHAT = "/v1/chat/completions"
CHOICES = Constraint(choices=("(A)", "(B)", "(C)"))


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as loopback:
        yield loopback


def chat_reply(content: str, *, prompt_tokens: int = 11, completion_tokens: int = 2) -> Reply:
    """An OpenAI chat completion, as vLLM, TGI and llama.cpp write it."""
    return Reply(
        body={
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1700000000,
            "model": "served-model",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
    )


def models_listing(*ids: str) -> Reply:
    return Reply(body={"object": "list", "data": [{"id": i, "object": "model"} for i in ids]})


def sent_body(server: LoopbackServer) -> dict[str, Any]:
    [request] = server.requests_to(CHAT)
    body: dict[str, Any] = request.body
    return body


def test_vllm_style_server_gets_openai_json_schema_and_the_label_comes_back_unquoted(
    server: LoopbackServer,
) -> None:
    server.routes["/v1/models"] = [models_listing("Qwen/Qwen2.5-7B-Instruct")]
    server.routes[CHAT] = [chat_reply('"(B)"')]
    llm = OpenAICompatLLM(endpoint_for(server.url))

    [completion] = llm.generate([Prompt("Q?", system="Be brief.", constraint=CHOICES)], GREEDY)

    body = sent_body(server)
    assert body["model"] == "Qwen/Qwen2.5-7B-Instruct"
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Q?"},
    ]
    assert (body["max_tokens"], body["temperature"], body["stream"]) == (8, 0.0, False)
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {
            "name": "answer",
            "schema": {"type": "string", "enum": ["(A)", "(B)", "(C)"]},
        },
    }
    assert completion.text == "(B)"
    assert completion.meta["raw_text"] == '"(B)"'
    assert (completion.prompt_tokens, completion.completion_tokens) == (11, 2)
    assert completion.meta["finish_reason"] == "stop"
    assert llm.style == "json_schema"


def test_json_schema_style_sends_the_assistant_schema_and_sampling(server: LoopbackServer) -> None:
    server.routes[CHAT] = [chat_reply('{"reason": "r", "guideline": "g"}')]
    llm = OpenAICompatLLM(endpoint_for(server.url), model="m", constraint_style="json_schema")
    params = GenerationParams(max_new_tokens=512, temperature=1.0, top_k=50, top_p=0.95, seed=3)

    [completion] = llm.generate(
        [Prompt("analyse", constraint=Constraint(json_schema=SCHEMA))], params
    )

    body = sent_body(server)
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "response", "schema": SCHEMA},
    }
    assert (body["temperature"], body["top_k"], body["top_p"], body["seed"]) == (1.0, 50, 0.95, 3)
    assert completion.text == '{"reason": "r", "guideline": "g"}'
    assert server.requests_to("/info") == []


def test_auto_detects_tgi_from_info_once_and_uses_its_grammar_shapes(
    server: LoopbackServer,
) -> None:
    server.routes["/info"] = [Reply(body={"model_id": "meta-llama/Llama-3.1-8B-Instruct"})]
    server.routes[CHAT] = [chat_reply("(C)")]
    llm = OpenAICompatLLM(endpoint_for(server.url))
    sampled = GenerationParams(temperature=1.0, top_k=50)

    llm.generate([Prompt("q", constraint=CHOICES)], sampled)
    llm.generate([Prompt("q", constraint=Constraint(json_schema=SCHEMA))], sampled)

    first, second = (r.body for r in server.requests_to(CHAT))
    assert first["response_format"] == {"type": "regex", "value": r"(\(A\)|\(B\)|\(C\))"}
    assert second["response_format"] == {"type": "json", "value": SCHEMA}
    # TGI reads `model` as the adapter to use, and its chat route has no top_k.
    assert first["model"] == "tgi"
    assert "top_k" not in first
    assert len(server.requests_to("/info")) == 1
    assert llm.style == "tgi"


@pytest.mark.parametrize("status", [422, 500])
def test_auto_falls_back_to_json_object_when_the_server_refuses_json_schema(
    server: LoopbackServer, status: int
) -> None:
    def reply(request: Received) -> Reply:
        if request.body["response_format"]["type"] == "json_schema":
            # llama-cpp-python's server answers so (with 500) to a response format it lacks.
            message = (
                "1 validation error: {'type': 'literal_error', 'loc': ('body', "
                "'response_format', 'type'), 'msg': \"Input should be 'text' or 'json_object'\"}"
            )
            return Reply(status, {"error": {"message": message, "type": "internal_server_error"}})
        return chat_reply('"(A)"')

    server.routes[CHAT] = reply
    llm = OpenAICompatLLM(endpoint_for(server.url), model="m")

    first = llm.generate([Prompt("q", constraint=CHOICES)], GREEDY)
    second = llm.generate([Prompt("q", constraint=Constraint(json_schema=SCHEMA))], GREEDY)

    assert [first[0].text, second[0].ok] == ["(A)", True]
    formats = [r.body["response_format"] for r in server.requests_to(CHAT)]
    assert formats == [
        constraint_format(CHOICES, "json_schema"),
        {"type": "json_object", "schema": {"type": "string", "enum": ["(A)", "(B)", "(C)"]}},
        {"type": "json_object", "schema": SCHEMA},
    ]
    assert llm.style == "json_object"


def test_an_explicit_json_schema_style_does_not_fall_back(server: LoopbackServer) -> None:
    server.routes[CHAT] = [Reply(422, {"detail": "response_format: unsupported"})]
    llm = OpenAICompatLLM(endpoint_for(server.url), model="m", constraint_style="json_schema")

    [completion] = llm.generate([Prompt("q", constraint=CHOICES)], GREEDY)

    assert "response_format" in (completion.error or "")
    assert len(server.requests_to(CHAT)) == 1


def test_an_adapter_is_requested_as_the_model(server: LoopbackServer) -> None:
    server.routes[CHAT] = [chat_reply("{}")]
    llm = OpenAICompatLLM(endpoint_for(server.url), adapter="sa-v4", constraint_style="tgi")

    llm.generate([Prompt("q")], GREEDY)

    assert sent_body(server)["model"] == "sa-v4"


def test_none_style_sends_no_response_format(server: LoopbackServer) -> None:
    server.routes[CHAT] = [chat_reply("The answer is (A).")]
    llm = OpenAICompatLLM(endpoint_for(server.url), model="m", constraint_style="none")

    [completion] = llm.generate([Prompt("q", constraint=CHOICES)], GREEDY)

    assert "response_format" not in sent_body(server)
    assert completion.text == "The answer is (A)."


def test_a_base_url_ending_in_v1_and_an_api_key_are_honoured(server: LoopbackServer) -> None:
    server.routes[CHAT] = [chat_reply("ok")]
    llm = OpenAICompatLLM(
        endpoint_for(server.url + "/v1/", api_key="sk-test"), model="m", constraint_style="none"
    )

    llm.generate([Prompt("q")], GREEDY)

    [request] = server.requests_to(CHAT)
    assert request.headers["authorization"] == "Bearer sk-test"


def test_a_context_length_400_is_not_retried_and_keeps_the_message(
    server: LoopbackServer,
) -> None:
    message = "This model's maximum context length is 2048 tokens. However, you requested 4100"
    error = {"error": {"message": message, "type": "invalid_request_error", "code": 400}}
    server.routes[CHAT] = [Reply(400, error)]
    llm = OpenAICompatLLM(endpoint_for(server.url), model="m", constraint_style="none")

    [completion] = llm.generate([Prompt("long")], GREEDY)

    assert message in (completion.error or "")
    assert len(server.requests_to(CHAT)) == 1


@pytest.mark.parametrize("status", [429, 500, 502])
def test_rate_limits_and_server_errors_are_retried(server: LoopbackServer, status: int) -> None:
    failure = Reply(status, {"error": {"message": "busy", "type": "server_error"}})
    server.routes[CHAT] = [failure, chat_reply("ok")]
    llm = OpenAICompatLLM(endpoint_for(server.url), model="m", constraint_style="none")

    [completion] = llm.generate([Prompt("q")], GREEDY)

    assert completion.text == "ok"
    assert len(server.requests_to(CHAT)) == 2


def test_a_malformed_answer_is_an_error_completion_not_a_crash(server: LoopbackServer) -> None:
    server.routes[CHAT] = [Reply(body={"unexpected": True})]
    llm = OpenAICompatLLM(endpoint_for(server.url), model="m", constraint_style="none")

    [completion] = llm.generate([Prompt("q")], GREEDY)

    assert "unexpected chat completion" in (completion.error or "")
    assert len(server.requests_to(CHAT)) == 1


def test_model_id_is_the_first_listed_model_unless_configured(server: LoopbackServer) -> None:
    server.routes["/v1/models"] = [models_listing("served/a", "served/b")]

    assert OpenAICompatLLM(endpoint_for(server.url)).model_id == "served/a"
    assert OpenAICompatLLM(endpoint_for(server.url), model="mine").model_id == "mine"


def test_a_choice_reply_that_is_not_a_json_string_is_kept_as_written(
    server: LoopbackServer,
) -> None:
    def reply(request: Received) -> Reply:
        return chat_reply("(A)")  # a server that ignored the schema

    server.routes[CHAT] = reply
    llm = OpenAICompatLLM(endpoint_for(server.url), model="m", constraint_style="json_schema")

    [completion] = llm.generate([Prompt("q", constraint=CHOICES)], GREEDY)

    assert completion.text == "(A)"
    assert "raw_text" not in completion.meta


def test_constraint_format_per_style() -> None:
    assert constraint_format(CHOICES, "none") is None
    assert constraint_format(None, "tgi") is None
    assert constraint_format(Constraint(json_schema=SCHEMA), "tgi") == {
        "type": "json",
        "value": SCHEMA,
    }


def test_an_unknown_constraint_style_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        OpenAICompatLLM(endpoint_for("http://127.0.0.1:1"), constraint_style="grammar")  # type: ignore[arg-type]


LOAD_LORA = "/v1/load_lora_adapter"


def vllm_with_adapter(server: LoopbackServer, load_reply: Reply) -> OpenAICompatLLM:
    server.routes[LOAD_LORA] = [load_reply]
    server.routes[CHAT] = [chat_reply('{"reason": "r", "guideline": "g"}')]
    return OpenAICompatLLM(
        endpoint_for(server.url),
        model="base",
        adapter="v3",
        constraint_style="json_schema",
        register_adapter_from="/adapters/3/adapter",
    )


def test_a_vllm_adapter_is_registered_once_then_named_as_the_model(
    server: LoopbackServer,
) -> None:
    llm = vllm_with_adapter(server, Reply(body="Success: LoRA adapter 'v3' added successfully."))
    prompt = Prompt("q", constraint=Constraint(json_schema=SCHEMA))

    llm.generate([prompt], GREEDY)
    llm.generate([prompt, prompt], GREEDY)

    [load] = server.requests_to(LOAD_LORA)
    assert load.method == "POST"
    assert load.body == {"lora_name": "v3", "lora_path": "/adapters/3/adapter"}
    assert {request.body["model"] for request in server.requests_to(CHAT)} == {"v3"}
    assert len(server.requests_to(CHAT)) == 3


def test_an_adapter_vllm_already_holds_is_fine(server: LoopbackServer) -> None:
    already = Reply(
        400, {"object": "error", "message": "The lora adapter 'v3' has already been loaded."}
    )
    llm = vllm_with_adapter(server, already)
    [completion] = llm.generate([Prompt("q")], GREEDY)
    assert completion.ok


def test_a_server_without_runtime_adapters_says_how_to_enable_them(server: LoopbackServer) -> None:
    llm = vllm_with_adapter(server, Reply(404, {"detail": "Not Found"}))
    with pytest.raises(BackendError, match="VLLM_ALLOW_RUNTIME_LORA_UPDATING"):
        llm.generate([Prompt("q")], GREEDY)
    assert server.requests_to(CHAT) == []


def test_the_adapter_path_is_given_as_the_server_sees_it(tmp_path: Path) -> None:
    from salam.llm import RoleConfig

    settings = Settings(
        sa_backend="openai",
        sa_url="http://vllm:8000",
        sa_lora_runtime="vllm",
        finetune_dir=tmp_path,
        sa_server_adapter_dir="/adapters",
    )
    config = RoleConfig.from_settings("sa", settings).with_adapter(
        "v3", str(tmp_path / "3" / "adapter")
    )
    llm = OpenAICompatLLM.from_settings(config, settings)
    assert llm.register_adapter_from == "/adapters/3/adapter"
    plain = OpenAICompatLLM.from_settings(config, Settings(sa_backend="openai", sa_url="http://x"))
    assert plain.register_adapter_from is None, "no runtime registration unless asked"
