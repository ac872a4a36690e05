"""The `tgi` backend and the shared HTTP machinery, against a loopback server that speaks TGI.

The server answers with the JSON TGI documents for `/generate` and `/info`, including its
error payloads (`{"error": ..., "error_type": "validation" | "overloaded" | ...}`), and
records what the client sent.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2
import pytest
from huggingface_hub.errors import InferenceTimeoutError

from salam.errors import (
    BackendUnavailable,
    ConfigError,
    RequestRejected,
    TransientBackendError,
)
from salam.llm import make_llm
from salam.llm.base import Constraint, GenerationParams, Prompt
from salam.llm.http import Endpoint, RetryPolicy
from salam.llm.http_errors import backend_error, server_message
from salam.llm.openai_compat import OpenAICompatLLM
from salam.llm.tgi import TGILLM
from salam.settings import Settings

FAST_RETRY = RetryPolicy(retries=2, base_delay_s=0.01, max_delay_s=0.05)
GREEDY = GenerationParams(max_new_tokens=8)
SCHEMA = {
    "type": "object",
    "properties": {"reason": {"type": "string"}, "guideline": {"type": "string"}},
    "required": ["reason", "guideline"],
}


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    delay_s: float = 0.0


@dataclass
class Received:
    method: str
    path: str
    body: Any
    headers: dict[str, str]


Responder = Callable[[Received], Reply]


@dataclass
class LoopbackServer:
    """An HTTP server on a free 127.0.0.1 port; `routes` maps a path to replies.

    A route is a list of replies used in turn (the last one repeats) or a function of the
    request. Unknown paths get 404. Tracks the most requests it ever had in flight.
    """

    routes: dict[str, list[Reply] | Responder] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    max_in_flight: int = 0
    _in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        serve = self._server.serve_forever
        threading.Thread(target=serve, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> LoopbackServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def requests_to(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    def reply_to(self, request: Received) -> Reply:
        with self._lock:
            self.received.append(request)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            route = self.routes.get(request.path)
            if isinstance(route, list):
                reply = route.pop(0) if len(route) > 1 else route[0]
        if route is None:
            reply = Reply(404, {"error": "Not Found"})
        elif not isinstance(route, list):
            reply = route(request)
        time.sleep(reply.delay_s)
        return reply

    def done(self) -> None:
        with self._lock:
            self._in_flight -= 1


def _handler_for(server: LoopbackServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._answer(None)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            self._answer(json.loads(self.rfile.read(length)))

        def _answer(self, body: Any) -> None:
            headers = {name.lower(): value for name, value in self.headers.items()}
            request = Received(self.command, self.path, body, headers)
            try:
                reply = server.reply_to(request)
                # A str body goes out as plain text, the way proxies and crashed servers answer.
                is_text = isinstance(reply.body, str)
                payload = (reply.body if is_text else json.dumps(reply.body)).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "text/plain" if is_text else "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            finally:
                server.done()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as loopback:
        yield loopback


def endpoint_for(url: str, **overrides: Any) -> Endpoint:
    options: dict[str, Any] = {"timeout_s": 5.0, "concurrency": 4, "retry": FAST_RETRY}
    return Endpoint(url, **{**options, **overrides})


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def tgi_generated(text: str, tokens: int = 3, reason: str = "eos_token") -> dict[str, Any]:
    """A TGI `/generate` answer with `details: true`."""
    return {
        "generated_text": text,
        "details": {
            "finish_reason": reason,
            "generated_tokens": tokens,
            "seed": None,
            "prefill": [],
            "tokens": [{"id": 7, "text": text, "logprob": -0.25, "special": False}],
        },
    }


def tgi_error(message: str, error_type: str) -> dict[str, str]:
    return {"error": message, "error_type": error_type}


# --- the request TGI receives ------------------------------------------------------------


def test_tgi_sends_raw_text_with_regex_grammar_and_greedy_parameters(
    server: LoopbackServer,
) -> None:
    server.routes["/generate"] = [Reply(body=tgi_generated("(B)"))]
    llm = TGILLM(endpoint_for(server.url, api_key="token-123"), model="m")
    prompt = Prompt("Q?", system="Be brief.", constraint=Constraint(choices=("(A)", "(B)")))

    [completion] = llm.generate([prompt], GenerationParams(max_new_tokens=5, stop=("\n",)))

    [request] = server.requests_to("/generate")
    assert request.body == {
        "inputs": "Be brief.\n\nQ?",
        "parameters": {
            "details": True,
            "do_sample": False,
            "grammar": {"type": "regex", "value": r"(\(A\)|\(B\))"},
            "max_new_tokens": 5,
            "stop": ["\n"],
        },
    }
    assert request.headers["authorization"] == "Bearer token-123"
    assert completion.text == "(B)"
    assert completion.ok


def test_tgi_never_sends_the_users_hugging_face_token(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_private_token")
    server.routes["/generate"] = [Reply(body=tgi_generated("ok"))]

    TGILLM(endpoint_for(server.url), model="m").generate([Prompt("q")], GREEDY)

    assert "authorization" not in server.requests_to("/generate")[0].headers


def test_tgi_sends_sampling_parameters_json_grammar_and_adapter(server: LoopbackServer) -> None:
    server.routes["/generate"] = [Reply(body=tgi_generated('{"reason": "r", "guideline": "g"}'))]
    llm = TGILLM(endpoint_for(server.url), model="m", adapter="sa-v3")
    params = GenerationParams(max_new_tokens=512, temperature=1.0, top_k=50, top_p=0.9, seed=7)

    llm.generate([Prompt("analyse", constraint=Constraint(json_schema=SCHEMA))], params)

    parameters = server.requests_to("/generate")[0].body["parameters"]
    assert parameters["grammar"] == {"type": "json", "value": SCHEMA}
    assert parameters["adapter_id"] == "sa-v3"
    assert parameters["do_sample"] is True
    assert (parameters["temperature"], parameters["top_k"], parameters["top_p"]) == (1.0, 50, 0.9)
    assert parameters["seed"] == 7


def test_tgi_leaves_out_a_top_p_of_one_which_tgi_refuses(server: LoopbackServer) -> None:
    server.routes["/generate"] = [Reply(body=tgi_generated("x"))]
    llm = TGILLM(endpoint_for(server.url), model="m")

    llm.generate([Prompt("q")], GenerationParams(temperature=0.7, top_p=1.0))

    assert "top_p" not in server.requests_to("/generate")[0].body["parameters"]


def test_tgi_reads_text_token_count_and_finish_reason(server: LoopbackServer) -> None:
    server.routes["/generate"] = [Reply(body=tgi_generated("(A) because", 4, "length"))]
    llm = TGILLM(endpoint_for(server.url), model="m")

    [completion] = llm.generate([Prompt("q")], GREEDY)

    assert completion.text == "(A) because"
    assert completion.completion_tokens == 4
    assert completion.meta["finish_reason"] == "length"
    assert completion.latency_s > 0


def test_tgi_model_id_comes_from_info_unless_configured(server: LoopbackServer) -> None:
    server.routes["/info"] = [Reply(body={"model_id": "HuggingFaceTB/SmolLM2-135M-Instruct"})]

    assert TGILLM(endpoint_for(server.url)).model_id == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert TGILLM(endpoint_for(server.url), adapter="sa-v2").model_id.endswith("@sa-v2")
    assert TGILLM(endpoint_for(server.url), model="mine").model_id == "mine"
    assert len(server.requests_to("/info")) == 2


# --- retries and errors ------------------------------------------------------------------


def test_overloaded_429_is_retried_then_succeeds(server: LoopbackServer) -> None:
    overloaded = Reply(429, tgi_error("Model is overloaded", "overloaded"))
    server.routes["/generate"] = [overloaded, overloaded, Reply(body=tgi_generated("(A)"))]
    llm = TGILLM(endpoint_for(server.url), model="m")

    [completion] = llm.generate([Prompt("q")], GREEDY)

    assert completion.text == "(A)"
    assert len(server.requests_to("/generate")) == 3


def test_unavailable_503_is_retried_then_succeeds(server: LoopbackServer) -> None:
    server.routes["/generate"] = [
        Reply(503, "<html><body>503 Service Unavailable</body></html>"),
        Reply(body=tgi_generated("ok")),
    ]
    llm = TGILLM(endpoint_for(server.url), model="m")

    [completion] = llm.generate([Prompt("q")], GREEDY)

    assert completion.text == "ok"
    assert len(server.requests_to("/generate")) == 2


def test_validation_422_is_not_retried_and_its_message_is_kept(server: LoopbackServer) -> None:
    message = "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 2048"
    server.routes["/generate"] = [Reply(422, tgi_error(message, "validation"))]
    llm = TGILLM(endpoint_for(server.url), model="m")

    [completion] = llm.generate([Prompt("a very long prompt")], GREEDY)

    assert not completion.ok
    assert completion.text == ""
    assert message in (completion.error or "")
    assert completion.meta["error_type"] == "RequestRejected"
    assert len(server.requests_to("/generate")) == 1


def test_a_prompt_whose_retries_run_out_gets_an_error_completion(server: LoopbackServer) -> None:
    server.routes["/generate"] = [Reply(500, tgi_error("CUDA out of memory", "generation"))]
    llm = TGILLM(endpoint_for(server.url), model="m")

    [completion] = llm.generate([Prompt("q")], GREEDY)

    assert "CUDA out of memory" in (completion.error or "")
    assert completion.meta["attempts"] == FAST_RETRY.retries + 1
    assert len(server.requests_to("/generate")) == FAST_RETRY.retries + 1


def test_one_rejected_prompt_does_not_spoil_the_others(server: LoopbackServer) -> None:
    def reply(request: Received) -> Reply:
        if request.body["inputs"] == "too long":
            return Reply(422, tgi_error("Input validation error: too long", "validation"))
        return Reply(body=tgi_generated(request.body["inputs"].upper()))

    server.routes["/generate"] = reply
    llm = TGILLM(endpoint_for(server.url), model="m")

    completions = llm.generate([Prompt("a"), Prompt("too long"), Prompt("c")], GREEDY)

    assert [c.text for c in completions] == ["A", "", "C"]
    assert [c.ok for c in completions] == [True, False, True]


def test_a_dead_server_raises_backend_unavailable_naming_it_quickly() -> None:
    url = closed_port_url()
    llm = TGILLM(endpoint_for(url), model="m")

    started = time.perf_counter()
    with pytest.raises(BackendUnavailable) as caught:
        llm.generate([Prompt("a"), Prompt("b")], GREEDY)

    assert url in str(caught.value)
    assert caught.value.endpoint == url
    assert time.perf_counter() - started < 3.0


def test_a_server_that_stops_between_calls_raises_backend_unavailable(
    server: LoopbackServer,
) -> None:
    server.routes["/generate"] = [Reply(body=tgi_generated("ok"))]
    llm = TGILLM(endpoint_for(server.url), model="m")
    assert llm.generate([Prompt("q")], GREEDY)[0].text == "ok"

    server.stop()

    with pytest.raises(BackendUnavailable):
        llm.generate([Prompt("q")], GREEDY)
    server.start()  # for the fixture's teardown


def test_a_slow_answer_times_out_within_the_bound(server: LoopbackServer) -> None:
    server.routes["/generate"] = [Reply(body=tgi_generated("late"), delay_s=2.0)]
    retry = RetryPolicy(retries=1, base_delay_s=0.01, max_delay_s=0.01)
    llm = TGILLM(endpoint_for(server.url, timeout_s=0.3, retry=retry), model="m")

    started = time.perf_counter()
    [completion] = llm.generate([Prompt("q")], GREEDY)

    assert "timed out" in (completion.error or "")
    assert completion.meta["error_type"] == "TransientBackendError"
    assert time.perf_counter() - started < 1.5


# --- concurrency ---------------------------------------------------------------------------


def test_prompts_run_concurrently_up_to_the_limit_and_keep_their_order(
    server: LoopbackServer,
) -> None:
    def reply(request: Received) -> Reply:
        index = int(request.body["inputs"])
        # Later prompts answer sooner, so order is kept by the client, not by timing.
        return Reply(body=tgi_generated(f"answer {index}"), delay_s=0.05 * (10 - index))

    server.routes["/generate"] = reply
    llm = TGILLM(endpoint_for(server.url, concurrency=3), model="m")

    completions = llm.generate([Prompt(str(i)) for i in range(9)], GREEDY)

    assert [c.text for c in completions] == [f"answer {i}" for i in range(9)]
    assert server.max_in_flight == 3


def test_generate_works_across_calls_each_in_its_own_event_loop(server: LoopbackServer) -> None:
    server.routes["/generate"] = [Reply(body=tgi_generated("ok"))]
    llm = TGILLM(endpoint_for(server.url), model="m")

    first = llm.generate([Prompt("a")], GREEDY)
    second = llm.generate([Prompt("b")], GREEDY)

    assert [first[0].text, second[0].text] == ["ok", "ok"]
    assert llm.generate([], GREEDY) == []


def test_backoff_is_full_jitter_under_an_exponential_cap() -> None:
    policy = RetryPolicy(retries=6, base_delay_s=0.5, max_delay_s=4.0)

    delays = [[policy.delay_s(attempt) for _ in range(200)] for attempt in range(6)]

    caps = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert all(0.0 <= d <= cap for row, cap in zip(delays, caps, strict=True) for d in row)
    assert max(delays[3]) > 2.0  # reaches past the previous cap: the bound grows
    assert min(delays[3]) < 1.0  # and starts near zero: the jitter is full


# --- error mapping -------------------------------------------------------------------------


def test_connect_failures_map_to_unavailable_and_read_timeouts_to_transient() -> None:
    request = httpx2.Request("POST", "http://h/generate")
    url = "http://h"

    refused = backend_error(httpx2.ConnectError("refused", request=request), url)
    connect_timeout = InferenceTimeoutError("timed out")
    connect_timeout.__cause__ = httpx2.ConnectTimeout("connect", request=request)
    read_timeout = InferenceTimeoutError("timed out")
    read_timeout.__cause__ = httpx2.ReadTimeout("read", request=request)

    assert isinstance(refused, BackendUnavailable)
    assert isinstance(backend_error(connect_timeout, url), BackendUnavailable)
    read_error = backend_error(read_timeout, url)
    assert isinstance(read_error, TransientBackendError)
    assert not isinstance(read_error, BackendUnavailable)
    assert backend_error(ValueError("a bug"), url) is None


@pytest.mark.parametrize(
    ("status", "kind"),
    [(429, TransientBackendError), (503, TransientBackendError), (400, RequestRejected)],
)
def test_status_codes_map_to_retryable_or_final_errors(status: int, kind: type) -> None:
    response = httpx2.Response(status, json={"error": {"message": "why"}})
    response.request = httpx2.Request("POST", "http://h/v1/chat/completions")
    error = httpx2.HTTPStatusError("failed", request=response.request, response=response)

    mapped = backend_error(error, "http://h")

    assert type(mapped) is kind
    assert "why" in str(mapped)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"error": "Input validation error", "error_type": "validation"}', "Input validation"),
        ('{"error": {"message": "context length exceeded", "type": "x"}}', "context length"),
        ('{"object": "error", "message": "model not found"}', "model not found"),
        ('{"detail": [{"msg": "field required"}]}', "field required"),
        ("<html>Bad Gateway</html>", "Bad Gateway"),
    ],
)
def test_server_message_reads_each_servers_error_shape(body: str, message: str) -> None:
    assert message in server_message(body)


# --- construction --------------------------------------------------------------------------


def test_make_llm_builds_http_backends_from_settings(server: LoopbackServer) -> None:
    settings = Settings(
        sa_backend="tgi",
        sa_url=server.url + "/",
        sa_adapter="sa-v1",
        main_backend="openai",
        main_url=server.url + "/v1",
        openai_constraint="none",
        request_retries=1,
        request_concurrency=5,
    )

    sa = make_llm("sa", settings)
    main = make_llm("main", settings)

    assert isinstance(sa, TGILLM)
    assert sa.adapter == "sa-v1"
    assert sa.endpoint.url == server.url
    assert isinstance(main, OpenAICompatLLM)
    assert main.endpoint.url == server.url
    assert main.style == "none"
    assert (main.endpoint.retry.retries, main.endpoint.concurrency) == (1, 5)


def test_a_url_without_a_scheme_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="http"):
        Endpoint("localhost:8080")


def test_an_http_backend_without_its_url_is_a_config_error_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match="SALAM_SA_URL"):
        make_llm("sa", Settings(sa_backend="openai", sa_url=None))


def test_building_an_http_backend_never_imports_torch() -> None:
    build = (
        "import sys\n"
        "from salam.llm import make_llm\n"
        "from salam.settings import Settings\n"
        "settings = Settings(main_backend='tgi', main_url='http://h', sa_backend='openai',"
        " sa_url='http://h', main_model='m', sa_model='m', openai_constraint='none')\n"
        "make_llm('main', settings), make_llm('sa', settings)\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )

    subprocess.run([sys.executable, "-c", build], check=True, timeout=60)
