"""Which LLM plays which role: the main LLM answers, the study assistant (SA) analyses mistakes.

The settings name each role's backend, model and server separately (`SALAM_MAIN_*`,
`SALAM_SA_*`); `RoleConfig` reads them once so that building a backend and checking it in
`salam doctor` pick the same values.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from salam.errors import ConfigError
from salam.settings import Settings

Role = Literal["main", "sa"]


@dataclass(frozen=True)
class RoleConfig:
    """One role's backend name, model, server URL and (SA only) LoRA adapter: its id on a
    server (`adapter`) and its folder (`adapter_path`: what the local backend loads and what a
    vLLM server is told to load)."""

    role: Role
    backend: str
    model: str = ""
    url: str | None = None
    adapter: str | None = None
    adapter_path: str | None = None

    @classmethod
    def from_settings(cls, role: Role, settings: Settings) -> RoleConfig:
        if role == "main":
            return cls(role, settings.main_backend, settings.main_model, settings.main_url)
        return cls(
            role, settings.sa_backend, settings.sa_model, settings.sa_url, settings.sa_adapter
        )

    def with_adapter(self, name: str, path: str | None) -> RoleConfig:
        """This role with a study-assistant version's adapter (`name` on a server, `path` on
        disk); a fixed `SALAM_SA_ADAPTER` wins over the version's name."""
        return replace(self, adapter=self.adapter or name, adapter_path=path)

    @property
    def url_variable(self) -> str:
        """The setting that holds this role's server URL."""
        return f"SALAM_{self.role.upper()}_URL"

    def require_url(self) -> str:
        """The server URL; a `ConfigError` naming the variable to set when there is none."""
        if not self.url:
            raise ConfigError(
                f"the {self.backend} backend for the {self.role} LLM needs {self.url_variable}"
            )
        return self.url
