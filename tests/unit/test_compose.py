"""docker-compose.yml and deploy/: the structure a deployment relies on, checked without Docker."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from workers.queues import QUEUES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DATA_PORTS_FILE = ROOT / "deploy" / "compose.data-ports.yml"
ENV_EXAMPLE = ROOT / "deploy" / ".env.example"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
REDIS_DEPLOY = ROOT / "deploy" / "redis"
POSTGRES_INIT = ROOT / "deploy" / "postgres" / "10-app-role.sh"

# ${NAME}, ${NAME:-default}, ${NAME:?error}; `$${...}` is an escaped dollar for the container.
REFERENCE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|BASIC_AUTH")
CREDENTIAL_NAME = re.compile(r"(?:^|_)(?:TOKEN|API_KEY)$")
URL_PASSWORD = re.compile(r"://[^/\s:@]*:(?P<password>[^@\s]+)@")
GPU_SERVICES = ("tgi-main", "tgi-sa", "worker-finetune")
HEALTHCHECKED = ("redis", "postgres", "tgi-main", "tgi-sa")
DATA_SERVICES = ("redis", "postgres")
# host:port:container, each part a ${...} reference or a number
PORT_MAPPING = re.compile(r"(?P<host>\$\{[^}]*\}):(?P<port>\$\{[^}]*\}|\d+):(?P<inside>\d+)")
PUBLISH_HOSTS = {
    "tgi-main": "TGI_PUBLISH_HOST",
    "tgi-sa": "TGI_PUBLISH_HOST",
    "flower": "FLOWER_PUBLISH_HOST",
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


@pytest.fixture(scope="module")
def data_ports() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(DATA_PORTS_FILE.read_text())
    return data


def command_words(service: dict[str, Any]) -> list[str]:
    """The command split as a shell would, each `${...}` reference kept whole."""
    command = service.get("command", [])
    if not isinstance(command, str):
        return [str(word) for word in command]
    references: list[str] = []

    def hide(match: re.Match[str]) -> str:
        references.append(match.group(0))
        return f"__reference{len(references) - 1}__"

    words = shlex.split(REFERENCE.sub(hide, command))
    return [re.sub(r"__reference(\d+)__", lambda m: references[int(m[1])], w) for w in words]


def all_strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in all_strings(key) + all_strings(value)]
    if isinstance(node, list):
        return [s for item in node for s in all_strings(item)]
    return []


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def is_required_reference(text: str) -> bool:
    """True when `text` is nothing but `${VAR:?...}` references and separators."""
    references = list(REFERENCE.finditer(text))
    rest = REFERENCE.sub("", text)
    return bool(references) and all(m.group(2) == ":?" for m in references) and rest in ("", ":")


def env_example_values() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def test_every_service_of_the_deployment_is_there(services: dict[str, Any]) -> None:
    expected = {
        "redis",
        "postgres",
        "tgi-main",
        "tgi-sa",
        "worker-llm",
        "worker-assistant",
        "worker-finetune",
        "beat",
        "flower",
    }
    assert expected <= set(services)


@pytest.mark.parametrize("name", HEALTHCHECKED)
def test_stateful_services_and_llm_servers_have_healthchecks(
    services: dict[str, Any], name: str
) -> None:
    healthcheck = services[name].get("healthcheck")
    assert healthcheck and healthcheck.get("test"), f"{name} has no healthcheck"


def test_tgi_healthchecks_ask_the_health_route(services: dict[str, Any]) -> None:
    for name in ("tgi-main", "tgi-sa"):
        assert "/health" in " ".join(services[name]["healthcheck"]["test"])


def test_dependencies_wait_for_healthy_services(services: dict[str, Any]) -> None:
    for name, service in services.items():
        depends_on = service.get("depends_on") or {}
        assert isinstance(depends_on, dict), f"{name}: depends_on needs conditions"
        for dependency, rule in depends_on.items():
            assert dependency in HEALTHCHECKED, f"{name} waits on {dependency}, not checked"
            assert rule == {"condition": "service_healthy"}, f"{name} -> {dependency}: {rule}"


def test_workers_wait_for_what_they_use(services: dict[str, Any]) -> None:
    for name in ("worker-llm", "worker-assistant", "worker-finetune", "beat"):
        assert {"redis", "postgres"} <= set(services[name]["depends_on"]), name
    assert "tgi-main" in services["worker-llm"]["depends_on"]
    assert "tgi-sa" in services["worker-assistant"]["depends_on"]


def test_exactly_one_beat_that_cannot_be_scaled(services: dict[str, Any]) -> None:
    beats = [n for n, s in services.items() if "beat" in command_words(s)]
    assert beats == ["beat"]
    beat = services["beat"]
    assert beat.get("container_name"), "a fixed container_name makes --scale beat=2 fail"
    assert beat.get("deploy", {}).get("replicas", 1) == 1


def test_the_llm_worker_can_be_scaled(services: dict[str, Any]) -> None:
    worker = services["worker-llm"]
    assert "container_name" not in worker
    assert "ports" not in worker, "published ports would collide between replicas"


@pytest.mark.parametrize("name", GPU_SERVICES)
def test_gpu_services_reserve_a_gpu(services: dict[str, Any], name: str) -> None:
    devices = services[name]["deploy"]["resources"]["reservations"]["devices"]
    assert any("gpu" in device.get("capabilities", []) for device in devices)


def test_the_sa_server_loads_lora_adapters_from_the_adapters_volume(
    services: dict[str, Any],
) -> None:
    tgi_sa = services["tgi-sa"]
    assert "--lora-adapters" in " ".join(command_words(tgi_sa))
    assert any(v.startswith("adapters:/adapters") for v in tgi_sa["volumes"])
    assert any(v.startswith("adapters:/adapters") for v in services["worker-finetune"]["volumes"])


def redis_config() -> dict[str, str]:
    settings = {}
    for line in (REDIS_DEPLOY / "redis.conf").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.strip().partition(" ")
            settings[name] = value.strip()
    return settings


def mounted(service: dict[str, Any], inside: str) -> Path | None:
    """The repository path a service mounts at `inside`, if it does."""
    for volume in service.get("volumes", []):
        source, _, rest = str(volume).partition(":")
        if source.startswith("./") and rest.split(":")[0] == inside:
            return ROOT / source
    return None


def test_redis_keeps_every_task(services: dict[str, Any]) -> None:
    redis = services["redis"]
    assert mounted(redis, "/usr/local/etc/salam") == REDIS_DEPLOY
    assert "/usr/local/etc/salam/redis.conf" in command_words(redis)
    config = redis_config()
    assert config["appendonly"] == "yes"
    assert config["maxmemory-policy"] == "noeviction"


def test_flower_asks_for_a_login_on_everything(services: dict[str, Any]) -> None:
    flower = services["flower"]
    assert command_words(flower)[:2] == ["salam", "flower"], "salam flower guards /metrics too"
    env = environment(flower)
    assert is_required_reference(env["SALAM_FLOWER_USER"])
    assert is_required_reference(env["SALAM_FLOWER_PASSWORD"])


def test_no_unauthenticated_flower_api_anywhere(compose: dict[str, Any]) -> None:
    assert not any("UNAUTHENTICATED" in text for text in all_strings(compose))


def test_data_services_are_not_published(services: dict[str, Any]) -> None:
    for name in DATA_SERVICES:
        assert "ports" not in services[name], f"{name} is published by default"


def test_the_data_ports_file_publishes_only_on_a_required_address(
    data_ports: dict[str, Any],
) -> None:
    assert set(data_ports["services"]) == set(DATA_SERVICES)
    for name, service in data_ports["services"].items():
        for port in service["ports"]:
            mapping = PORT_MAPPING.fullmatch(str(port))
            assert mapping, f"{name}: {port} must name its host address"
            host = REFERENCE.fullmatch(mapping["host"])
            assert host and host.group(1) == "DATA_PUBLISH_HOST" and host.group(2) == ":?", port


def test_tgi_and_flower_are_published_on_their_own_address_loopback_by_default(
    services: dict[str, Any],
) -> None:
    published = {name: s["ports"] for name, s in services.items() if "ports" in s}
    assert set(published) == set(PUBLISH_HOSTS)
    for name, ports in published.items():
        for port in ports:
            mapping = PORT_MAPPING.fullmatch(str(port))
            assert mapping, f"{name}: {port} must name its host address"
            host = REFERENCE.fullmatch(mapping["host"])
            assert host and host.group(1) == PUBLISH_HOSTS[name], port
            assert (host.group(2), host.group(3)) == (":-", "127.0.0.1"), port
    assert env_example_values()["TGI_PUBLISH_HOST"] == "127.0.0.1"
    assert env_example_values()["FLOWER_PUBLISH_HOST"] == "127.0.0.1"


def test_salam_connects_to_postgres_as_an_app_role_not_the_superuser(
    services: dict[str, Any],
) -> None:
    postgres = environment(services["postgres"])
    superuser = REFERENCE.fullmatch(postgres["POSTGRES_USER"])
    app_user = REFERENCE.fullmatch(postgres["POSTGRES_APP_USER"])
    assert superuser and app_user and superuser.group(1) != app_user.group(1)
    for name in ("worker-llm", "worker-assistant", "worker-finetune", "beat", "flower"):
        url = environment(services[name])["SALAM_DATABASE_URL"]
        login = re.search(r"://\$\{(\w+)[^}]*\}:", url)
        assert login and login.group(1) == app_user.group(1), f"{name} logs in as {url}"
    values = env_example_values()
    assert values[superuser.group(1)] != values[app_user.group(1)]
    init = mounted(services["postgres"], "/docker-entrypoint-initdb.d/10-app-role.sh")
    assert init == POSTGRES_INIT


def test_the_postgres_init_script_makes_a_role_without_admin_rights() -> None:
    script = POSTGRES_INIT.read_text()
    assert POSTGRES_INIT.stat().st_mode & 0o111, "the image only runs executable .sh files"
    assert "NOSUPERUSER NOCREATEDB NOCREATEROLE" in script
    assert "ALTER DATABASE %I OWNER TO %I" in script, "it must own (and migrate) its database"
    assert "must not be the superuser" in script
    assert "\\getenv app_password POSTGRES_APP_PASSWORD" in script, "no password in argv"


def test_salam_logs_in_to_redis_as_its_acl_user(services: dict[str, Any]) -> None:
    user = environment(services["redis"])["REDIS_APP_USER"]
    template = (REDIS_DEPLOY / "users.acl.template").read_text().splitlines()
    assert "user default off" in template
    (app_line,) = [line for line in template if line.startswith("user @APP_USER@ ")]
    assert "-@admin" in app_line and "-@dangerous" in app_line
    assert "#@APP_PASSWORD_SHA256@" in app_line, "the file holds the password's hash only"
    for name in ("worker-llm", "worker-assistant", "beat", "flower"):
        broker = environment(services[name])["SALAM_BROKER_URL"]
        assert broker.startswith(f"redis://{user}:"), f"{name}: {broker}"


def test_the_redis_password_is_on_no_command_line(services: dict[str, Any]) -> None:
    redis = services["redis"]
    words = [str(word) for word in redis.get("entrypoint", [])] + command_words(redis)
    assert not any("PASSWORD" in word for word in words), words
    assert "/usr/local/etc/salam/start.sh" in words
    start = (REDIS_DEPLOY / "start.sh").read_text().splitlines()
    code = [line.strip() for line in start if not line.lstrip().startswith("#")]
    uses = [line for line in code if "REDIS_APP_PASSWORD" in line]
    assert all(line.startswith((":", "password_hash=$(printf")) for line in uses), uses
    assert 'exec "$@" --aclfile "$acl_file"' in start


def test_files_mounted_from_the_repository_exist(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = str(volume).split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which is missing"


def test_no_secret_is_written_in_the_compose_file(compose: dict[str, Any]) -> None:
    for service_name, service in compose["services"].items():
        for key, value in environment(service).items():
            if SECRET_NAME.search(key):
                assert is_required_reference(value), f"{service_name}.{key} = {value!r}"
            if CREDENTIAL_NAME.search(key):
                assert REFERENCE.fullmatch(value), f"{service_name}.{key} must come from .env"
    for text in all_strings(compose):
        for match in URL_PASSWORD.finditer(text):
            assert is_required_reference(match.group("password")), f"password in {text!r}"
        for reference in REFERENCE.finditer(text):
            if SECRET_NAME.search(reference.group(1)):
                assert reference.group(2) == ":?", f"{reference.group(0)} needs :? (no default)"


def test_every_variable_is_listed_in_the_env_example(
    compose: dict[str, Any], data_ports: dict[str, Any]
) -> None:
    texts = all_strings(compose) + all_strings(data_ports)
    used = {m.group(1) for text in texts for m in REFERENCE.finditer(text)}
    listed = set(env_example_values())
    assert used - listed == set(), "add these to deploy/.env.example"


def test_the_env_example_leaves_every_secret_empty() -> None:
    for name, value in env_example_values().items():
        if SECRET_NAME.search(name) or CREDENTIAL_NAME.search(name):
            assert value == "", f"{name} has a value in the example"


def test_commands_run_real_entry_points(services: dict[str, Any]) -> None:
    tomllib = pytest.importorskip("tomllib")
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    for name, service in services.items():
        words = command_words(service)
        if words[:2] == ["celery", "-A"]:
            module = words[2]
            assert (ROOT / (module.replace(".", "/") + ".py")).is_file(), f"{name}: {module}"
        elif words and words[0] == "salam":
            assert "salam" in scripts, f"{name}: no `salam` console script"


def test_each_queue_has_a_worker_and_workers_read_only_known_queues(
    services: dict[str, Any],
) -> None:
    consumed = set()
    for service in services.values():
        words = command_words(service)
        if "worker" in words and "-Q" in words:
            consumed.update(words[words.index("-Q") + 1].split(","))
    assert consumed == set(QUEUES)


def test_the_image_copies_every_package_the_commands_import() -> None:
    text = DOCKERFILE.read_text()
    lines = re.findall(r"^COPY\s+(.+)$", text, flags=re.MULTILINE)
    copied = [source for line in lines for source in line.split()[:-1]]
    for source in copied:
        assert (ROOT / source).exists(), f"the Dockerfile copies {source}, which is missing"
    assert {"salam", "workers", "models", "producers"} <= set(copied)
    assert "torch==2.13.0" in text
