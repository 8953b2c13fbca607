"""Process settings: everything idr reads from the environment (and an optional .env file),
in one typed object, checked once when the command starts.

Settings of a database (rules, the anomaly gate's thresholds, exporters) live in
idr_meta.config with the data they govern; these are the settings of a process: which
database, how to log, secrets, retries. Every problem is reported at once (exit code 2).
Secrets are SecretStr, so they never appear in a repr, a log line or an error message.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import ConfigError

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IDR_", env_file=".env", env_file_encoding="utf-8",
                                      extra="ignore", case_sensitive=False, validate_default=True)

    # Database
    db: str | None = Field(None, description="database file when --db is not given (IDR_DB)")
    dry_run: bool = Field(False, description="idr run publishes nothing unless told otherwise (IDR_DRY_RUN)")
    debug: bool = Field(False, description="print the traceback of an unexpected error (IDR_DEBUG)")
    # Logs
    # Unset: INFO to a log file, WARNING to standard error.
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] | None = None
    log_format: Literal["plain", "json"] = "plain"
    log_file: Path | None = None
    log_max_bytes: int = Field(10 * 1024 * 1024, gt=0)
    log_backup_count: int = Field(5, ge=0)
    # Retries of transient errors (lock busy, a source's I/O error, an exporter's timeout)
    retry_attempts: int = Field(3, ge=1, le=100)
    retry_factor: float = Field(2.0, ge=1.0)
    retry_initial_seconds: float = Field(1.0, ge=0.0)
    retry_max_seconds: float = Field(60.0, ge=0.0)
    # Exporter secrets
    webhook_secret: SecretStr | None = None
    dd_api_key: SecretStr | None = Field(None, validation_alias=AliasChoices("DD_API_KEY", "IDR_DD_API_KEY"))

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _any_case(cls, v):
        if not isinstance(v, str):
            return v
        return v.strip().upper() if v.strip().upper() in LOG_LEVELS else v.strip().lower()

    @model_validator(mode="after")
    def _retry_bounds(self):
        if self.retry_max_seconds < self.retry_initial_seconds:
            raise ValueError(f"IDR_RETRY_MAX_SECONDS={self.retry_max_seconds:g} is below "
                             f"IDR_RETRY_INITIAL_SECONDS={self.retry_initial_seconds:g}")
        return self


def _problems(e: ValidationError) -> list[str]:
    out = []
    for err in e.errors():
        loc = "_".join(str(p) for p in err["loc"]).upper()
        msg = err["msg"].removeprefix("Value error, ")
        if not loc:  # a check across settings: its message names them
            out.append(msg)
            continue
        name = loc if loc.startswith(("IDR_", "DD_")) else f"IDR_{loc}"
        # The input of a secret is never echoed.
        shown = "" if "SECRET" in name or "KEY" in name or err.get("input") is None else f"={err['input']!r}"
        out.append(f"{name}{shown}: {msg}")
    return out


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process settings (read once; tests call get_settings.cache_clear() after changing
    the environment). ConfigError (exit 2) lists every problem."""
    try:
        return Settings()
    except ValidationError as e:
        raise ConfigError([f"environment: {p}" for p in _problems(e)]) from None
