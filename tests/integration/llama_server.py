"""A real OpenAI-compatible server for tests: llama-cpp-python serving the bundled SmolLM2 GGUF.

`running_llama_server()` starts `python -m llama_cpp.server` on a free loopback port and waits
for `/v1/models`; the fixture `llama_server` (import `llama_server_fixture` and
`llama_server_process`) shares one server per session and fails a test whose server died,
naming the signal and quoting the end of its log, where the test itself would only see
"connection refused". Both skip, with the reason, when `llama-cpp-python[server]` or the model
is not installed.
"""

from __future__ import annotations

import importlib.util
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

from salam.errors import ConfigError
from salam.llm.model_files import bundled_model

READY_TIMEOUT_S = 180.0
INSTALL_HINT = "pip install -e '.[server-tests]' (llama-cpp-python[server] compiles for minutes)"


@dataclass
class LlamaServer:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def death(self) -> str | None:
        """Why the server is gone, with the end of its log; None while it runs."""
        code = self.process.poll()
        if code is None:
            return None
        if code < 0:
            how = f"was killed by {signal.Signals(-code).name}"
            if -code == signal.SIGILL:
                how += " (an instruction this CPU does not allow: was llama.cpp built natively?)"
        else:
            how = f"exited with status {code}"
        tail = self.log.read_text(errors="replace")[-2000:]
        return f"llama_cpp.server {how}; the end of its log ({self.log}):\n{tail}"

    def stop(self) -> None:
        """Ends the server and waits for it, so its port refuses connections afterwards."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


def server_model_path() -> Path:
    """The bundled SmolLM2 GGUF; skips the test when it is not installed."""
    try:
        files = bundled_model()
    except ConfigError as err:
        pytest.skip(str(err))
    assert files.gguf_file is not None, "the bundled model is a GGUF file"
    return files.folder / files.gguf_file


def require_llama_cpp_server() -> None:
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip(f"llama-cpp-python is not installed: {INSTALL_HINT}")
    for module in ("fastapi", "uvicorn", "sse_starlette", "starlette_context"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"the llama_cpp server extra is missing {module}: {INSTALL_HINT}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running_llama_server(n_ctx: int = 2048) -> Iterator[LlamaServer]:
    """A fresh server process; stopped (if still running) when the block ends."""
    require_llama_cpp_server()
    model = server_model_path()
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="llama-server-", suffix=".log")[1])
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        str(n_ctx),
    ]
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    server = LlamaServer(f"http://127.0.0.1:{port}", process, log)
    try:
        wait_until_ready(server)
        yield server
    finally:
        server.stop()


def wait_until_ready(server: LlamaServer, timeout_s: float = READY_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        death = server.death()
        if death is not None:
            raise RuntimeError(death)
        try:
            if httpx2.get(server.url + "/v1/models", timeout=2.0).status_code == 200:
                return
        except httpx2.TransportError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"llama_cpp.server not ready on {server.url} after {timeout_s:.0f} s")


@pytest.fixture(scope="session")
def llama_server_process() -> Iterator[LlamaServer]:
    with running_llama_server() as server:
        yield server


@pytest.fixture(name="llama_server")
def llama_server_fixture(llama_server_process: LlamaServer) -> Iterator[LlamaServer]:
    """The session's server, checked before and after each test that uses it."""
    death = llama_server_process.death()
    if death is not None:
        pytest.fail(f"the server died before this test: {death}")
    yield llama_server_process
    death = llama_server_process.death()
    if death is not None:
        pytest.fail(f"the server died during this test: {death}")
