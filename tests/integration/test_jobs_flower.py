"""`salam flower`: Flower on the same broker, listing the three queues, with its pages, its API
and /metrics behind a login, and nothing for a web page of another origin."""

from __future__ import annotations

import base64
import json
import re
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from workers.private_redis import free_loopback_port
from workers.processes import start_process, stop_process

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

LOGIN = {"SALAM_FLOWER_USER": "watcher", "SALAM_FLOWER_PASSWORD": "s3cret-enough"}
WATCHER = (LOGIN["SALAM_FLOWER_USER"], LOGIN["SALAM_FLOWER_PASSWORD"])
# What a browser adds to a request that a page on another site makes.
CROSS_SITE = {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}
PERMISSIVE_CORS = ("Access-Control-Allow-Origin", "Access-Control-Allow-Credentials")


@dataclass
class Answer:
    status: int
    headers: Message
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    url: str,
    login: tuple[str, str] | None = None,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
) -> Answer:
    sent = urllib.request.Request(url, method=method, headers=dict(headers or {}))
    if login:
        token = base64.b64encode(f"{login[0]}:{login[1]}".encode()).decode()
        sent.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(sent, timeout=5) as response:
            return Answer(response.status, response.headers, response.read())
    except urllib.error.HTTPError as err:
        return Answer(err.code, err.headers, err.read())


def start_flower(env: dict[str, str], log: Path) -> tuple[str, Any]:
    port = free_loopback_port()
    command = [sys.executable, "-c", "import sys; from salam.cli import main; sys.exit(main())",
               "flower", "--port", str(port)]  # fmt: skip
    return f"http://127.0.0.1:{port}", start_process(command, env=env, log_path=log)


def wait_for_flower(base: str, login: tuple[str, str], wait_until: Callable[..., None]) -> None:
    def answers() -> bool:
        try:
            return request(f"{base}/api/queues/length", login).status == 200
        except (urllib.error.URLError, ConnectionError):
            return False

    wait_until(answers, 60, "Flower's API")


@pytest.fixture
def flower(
    jobs: Any, sqlite_url: str, tmp_path: Path, wait_until: Callable[..., None]
) -> Iterator[tuple[str, dict[str, str]]]:
    # A leftover variable of the shell must not open the API either.
    env = jobs.env(sqlite_url, FLOWER_UNAUTHENTICATED_API="true", **LOGIN)
    base, process = start_flower(env, tmp_path / "flower.log")
    try:
        wait_for_flower(base, WATCHER, wait_until)
        yield base, env
    finally:
        stop_process(process, grace_s=5)


def test_flower_lists_the_queues_behind_basic_auth(
    flower: tuple[str, dict[str, str]], jobs: Any
) -> None:
    base, env = flower
    jobs.submit("generated", "--mode", "exam", "--limit", "2", env=env)  # two chunks, no worker
    answer = request(f"{base}/api/queues/length", WATCHER)
    lengths = {queue["name"]: queue["messages"] for queue in answer.json()["active_queues"]}
    assert answer.status == 200
    assert {"llm", "assistant", "finetune"} <= set(lengths)
    assert lengths["llm"] == 2 and lengths["assistant"] == 0
    assert request(f"{base}/api/queues/length").status == 401
    assert request(f"{base}/api/queues/length", ("watcher", "wrong")).status == 401


@pytest.mark.parametrize("route", ["/api/workers", "/api/tasks", "/metrics", "/", "/broker"])
def test_every_route_but_the_health_check_asks_for_the_login(
    flower: tuple[str, dict[str, str]], route: str
) -> None:
    base, _ = flower
    assert request(base + route).status == 401
    assert request(base + route, ("watcher", "wrong")).status == 401
    assert request(base + route, WATCHER).status == 200
    assert request(f"{base}/healthcheck").body == b"OK"


def test_metrics_answer_with_the_login(flower: tuple[str, dict[str, str]]) -> None:
    base, _ = flower
    answer = request(f"{base}/metrics", WATCHER)
    assert answer.status == 200 and b"flower_" in answer.body


def test_a_page_of_another_origin_gets_no_cors_and_cannot_act(
    flower: tuple[str, dict[str, str]],
) -> None:
    base, _ = flower
    for login in (None, WATCHER):  # a browser may hold the login from an earlier visit
        read = request(f"{base}/api/workers", login, headers=CROSS_SITE)
        preflight = request(
            f"{base}/api/worker/shutdown/w@h",
            method="OPTIONS",
            headers={**CROSS_SITE, "Access-Control-Request-Method": "POST"},
        )
        act = request(f"{base}/api/worker/shutdown/w@h", login, method="POST", headers=CROSS_SITE)
        for answer in (read, preflight, act):
            assert not any(answer.headers.get(name) for name in PERMISSIVE_CORS), answer.headers
        # Refused as cross-site before any login is looked at, with or without one.
        assert act.status == 403
    forged = request(
        f"{base}/api/worker/shutdown/w@h",
        WATCHER,
        method="POST",
        headers={"Origin": "http://evil.example"},  # no fetch metadata: an older browser
    )
    assert forged.status == 403


def test_without_a_configured_login_flower_makes_one_and_prints_it_once(
    jobs: Any, sqlite_url: str, tmp_path: Path, wait_until: Callable[..., None]
) -> None:
    env = jobs.env(sqlite_url, SALAM_FLOWER_USER="", SALAM_FLOWER_PASSWORD="")
    log = tmp_path / "flower.log"
    base, process = start_flower(env, log)
    try:
        wait_until(lambda: "Flower login for this run" in log.read_text(), 30, "the login")
        printed = re.findall(r"user (\S+), password (\S+)", log.read_text())
        assert len(printed) == 1
        user, password = printed[0]
        assert len(password) >= 20
        wait_for_flower(base, (user, password), wait_until)
        assert request(f"{base}/api/queues/length").status == 401
        assert request(f"{base}/metrics").status == 401
        assert request(f"{base}/metrics", (user, password)).status == 200
    finally:
        stop_process(process, grace_s=5)
    assert len(re.findall(re.escape(password), log.read_text())) == 1


def test_flower_has_no_way_to_run_without_a_login(jobs: Any, sqlite_url: str) -> None:
    env = jobs.env(sqlite_url, **LOGIN)
    assert jobs.salam("flower", "--no-auth", env=env).returncode == 2
    half = jobs.env(sqlite_url, SALAM_FLOWER_USER="watcher", SALAM_FLOWER_PASSWORD="")
    result = jobs.salam("flower", env=half)
    assert result.returncode == 2 and "SALAM_FLOWER_PASSWORD" in result.stderr
