"""`salam flower`: Flower on the same broker, behind basic auth, listing the three queues."""

from __future__ import annotations

import base64
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from workers.private_redis import free_loopback_port
from workers.processes import start_process, stop_process

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

LOGIN = {"SALAM_FLOWER_USER": "watcher", "SALAM_FLOWER_PASSWORD": "s3cret-enough"}


def _get(url: str, login: tuple[str, str] | None) -> tuple[int, Any]:
    request = urllib.request.Request(url)
    if login:
        token = base64.b64encode(f"{login[0]}:{login[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, None


@pytest.fixture
def flower(jobs: Any, sqlite_url: str, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    port = free_loopback_port()
    env = jobs.env(sqlite_url, **LOGIN)
    command = [sys.executable, "-c", "import sys; from salam.cli import main; sys.exit(main())",
               "flower", "--port", str(port)]  # fmt: skip
    process = start_process(command, env=env, log_path=tmp_path / "flower.log")
    yield f"http://127.0.0.1:{port}", env
    stop_process(process, grace_s=5)


def test_flower_lists_the_queues_behind_basic_auth(
    flower: tuple[str, dict[str, str]], jobs: Any, wait_until: Callable[..., None]
) -> None:
    base, env = flower
    jobs.submit("generated", "--mode", "exam", "--limit", "2", env=env)  # two chunks, no worker
    login = (LOGIN["SALAM_FLOWER_USER"], LOGIN["SALAM_FLOWER_PASSWORD"])

    def answers() -> bool:
        try:
            return _get(f"{base}/api/queues/length", login)[0] == 200
        except (urllib.error.URLError, ConnectionError):
            return False

    wait_until(answers, 60, "Flower's API")
    status, body = _get(f"{base}/api/queues/length", login)
    lengths = {queue["name"]: queue["messages"] for queue in body["active_queues"]}
    assert status == 200
    assert {"llm", "assistant", "finetune"} <= set(lengths)
    assert lengths["llm"] == 2 and lengths["assistant"] == 0
    assert _get(f"{base}/api/queues/length", None)[0] == 401
    assert _get(f"{base}/api/queues/length", ("watcher", "wrong"))[0] == 401


def test_flower_refuses_to_start_without_a_login(jobs: Any, sqlite_url: str) -> None:
    env = jobs.env(sqlite_url, SALAM_FLOWER_USER="", SALAM_FLOWER_PASSWORD="")
    result = jobs.salam("flower", env=env)
    assert result.returncode == 2 and "SALAM_FLOWER_PASSWORD" in result.stderr
    open_to_all = jobs.salam("flower", "--no-auth", "--address", "0.0.0.0", env=env)
    assert open_to_all.returncode == 2 and "loopback" in open_to_all.stderr
