"""What `salam run` starts and stops: a private Redis (unless a broker is set), one worker per
queue (`llm`, `assistant`, `finetune`) and the one beat scheduler, each logging to the output
folder and stopped, also on Ctrl-C, by the ExitStack they are registered with."""

from __future__ import annotations

import subprocess
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from salam.errors import ConfigError
from salam.settings import Settings


@dataclass(frozen=True)
class ServiceProcess:
    name: str
    process: subprocess.Popen[bytes]
    log: Path


def private_redis(stack: ExitStack, output: Path) -> str:
    from workers.private_redis import PrivateRedis

    server = PrivateRedis(output / "redis")
    stack.callback(server.stop)
    return server.start()


def start_services(
    stack: ExitStack, settings: Settings, output: Path, env: dict[str, str]
) -> list[ServiceProcess]:
    """Workers for the three queues and beat, with `env` on top of this environment."""
    from workers.app import use_broker
    from workers.processes import (
        beat_command,
        start_process,
        stop_process,
        thread_share_env,
        worker_command,
    )

    assert settings.broker_url, "the broker is known before services start"
    use_broker(settings.broker_url, result_backend=settings.result_backend)
    # Two model processes share the cores; training runs while they wait on it.
    env = {**env, **thread_share_env(2)}
    commands = {queue: worker_command([queue]) for queue in ("llm", "assistant", "finetune")}
    commands["beat"] = beat_command(output / "beat-schedule")
    services = []
    for name, command in commands.items():
        log = output / "logs" / f"{name}.log"
        process = start_process(command, env=env, log_path=log)
        stack.callback(stop_process, process)
        services.append(ServiceProcess(name, process, log))
    return services


def check_services(services: list[ServiceProcess]) -> None:
    for service in services:
        if service.process.poll() is not None:
            raise ConfigError(
                f"the {service.name} process stopped (exit {service.process.returncode}); "
                f"see {service.log}"
            )
