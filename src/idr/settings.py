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
    # Engine (docs/spark.md). The state (idr_meta, audit, published snapshots) stays with --db.
    engine: Literal["duckdb", "spark"] = Field("duckdb", description="engine that computes runs (IDR_ENGINE)")
    spark_master: str = Field("local[*]", description="Spark master URL: local[N], spark://host:port, yarn")
    spark_warehouse: Path | None = Field(None, description="spark.sql.warehouse.dir (default: next to --db)")
    spark_catalog: Literal["in-memory", "hive"] = Field(
        "in-memory", description="hive: Spark's persistent catalog (a Derby metastore), where idr registers its tables")
    spark_metastore: Path | None = Field(
        None, description="folder of the Derby metastore with IDR_SPARK_CATALOG=hive (default: beside the warehouse)")
    spark_checkpoint_dir: Path | None = Field(
        None, description="reliable checkpoints of component rounds here (default: local checkpoints)")
    spark_driver_memory: str | None = Field(None, description="spark.driver.memory, e.g. 4g")
    spark_connect_timeout_seconds: float = Field(20.0, gt=0, description="how long to wait for a spark:// master")
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

    @field_validator("engine", "spark_catalog", mode="before")
    @classmethod
    def _engine_case(cls, v):
        return v.strip().lower() if isinstance(v, str) else v

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


# --- `idr serve` --------------------------------------------------------------------------------

RATE = r"^\s*\d+\s*(/|per)\s*(\d+\s*)?(second|minute|hour|day)s?\s*$"


class ServeSettings(BaseSettings):
    """Settings of the lookup service (`idr serve`, docs/serve.md). A class of their own so
    that a bad REDIS_URL stops `idr serve` (exit 2) without touching other commands. The
    names the operations guide uses (REDIS_URL, CACHE_TTL_SECONDS, RATE_LIMIT_*) are read
    as they are; every one also answers to an IDR_ prefix."""

    model_config = SettingsConfigDict(env_prefix="IDR_", env_file=".env", env_file_encoding="utf-8",
                                      extra="ignore", case_sensitive=False, validate_default=True)

    host: str = Field("127.0.0.1", validation_alias=AliasChoices("IDR_SERVE_HOST", "HOST"))
    port: int = Field(8080, ge=1, le=65535, validation_alias=AliasChoices("IDR_SERVE_PORT", "PORT"))
    workers: int = Field(1, ge=1, le=64, validation_alias=AliasChoices("IDR_SERVE_WORKERS", "WEB_CONCURRENCY"))
    # Shared state for replicas: rate limits and the lookup cache. Unset: per process.
    redis_url: SecretStr | None = Field(None, validation_alias=AliasChoices("REDIS_URL", "IDR_REDIS_URL"))
    redis_timeout_seconds: float = Field(0.25, gt=0, le=10, validation_alias=AliasChoices(
        "REDIS_TIMEOUT_SECONDS", "IDR_REDIS_TIMEOUT_SECONDS"))
    # How often a service that lost Redis tries it again.
    redis_retry_seconds: float = Field(2.0, gt=0, le=300, validation_alias=AliasChoices(
        "REDIS_RETRY_SECONDS", "IDR_REDIS_RETRY_SECONDS"))
    cache_enabled: bool = Field(True, validation_alias=AliasChoices("CACHE_ENABLED", "IDR_CACHE_ENABLED"))
    cache_ttl_seconds: int = Field(60, ge=1, le=86400, validation_alias=AliasChoices(
        "CACHE_TTL_SECONDS", "IDR_CACHE_TTL_SECONDS"))
    cache_max_entries: int = Field(100_000, ge=1, validation_alias=AliasChoices(
        "CACHE_MAX_ENTRIES", "IDR_CACHE_MAX_ENTRIES"))
    rate_limit_enabled: bool = Field(True, validation_alias=AliasChoices("RATE_LIMIT_ENABLED", "IDR_RATE_LIMIT_ENABLED"))
    # Per API key and route class (limits' notation: "600/minute", "10 per second").
    rate_limit_lookup: str = Field("6000/minute", validation_alias=AliasChoices(
        "RATE_LIMIT_LOOKUP", "IDR_RATE_LIMIT_LOOKUP"))
    rate_limit_batch: str = Field("120/minute", validation_alias=AliasChoices(
        "RATE_LIMIT_BATCH", "IDR_RATE_LIMIT_BATCH"))
    rate_limit_read: str = Field("600/minute", validation_alias=AliasChoices(
        "RATE_LIMIT_READ", "IDR_RATE_LIMIT_READ"))
    rate_limit_admin: str = Field("60/minute", validation_alias=AliasChoices(
        "RATE_LIMIT_ADMIN", "IDR_RATE_LIMIT_ADMIN"))
    # How often the snapshot pointer is read to notice a publish.
    snapshot_poll_seconds: float = Field(1.0, gt=0, le=3600)
    # The API key store (default: <db>.idr/apikeys.sqlite3, next to the snapshots).
    apikey_file: Path | None = None
    batch_max: int = Field(1000, ge=1, le=10_000)
    records_max: int = Field(100, ge=1, le=100_000, description="records listed per cluster in an answer")

    @field_validator("rate_limit_lookup", "rate_limit_batch", "rate_limit_read", "rate_limit_admin")
    @classmethod
    def _rate(cls, v: str):
        import re

        if not re.match(RATE, v, re.I):
            raise ValueError("expected a rate such as 600/minute, 10/second or 1000 per hour")
        return v.strip()

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, v):
        if v is None or not v.get_secret_value().strip():
            return None
        from urllib.parse import urlsplit

        text = v.get_secret_value().strip()
        try:
            url = urlsplit(text)
            port = url.port  # ValueError when not a number in range
        except ValueError as e:
            raise ValueError(f"not a valid URL ({e})") from None
        if url.scheme not in ("redis", "rediss", "unix"):
            raise ValueError(f"scheme {url.scheme or '(none)'!r}: expected redis://, rediss:// or unix://")
        if url.scheme != "unix" and not url.hostname:
            raise ValueError("no host (expected e.g. redis://127.0.0.1:6379/0)")
        del port
        return SecretStr(text)


def serve_problems(e: ValidationError) -> list[str]:
    """Problems of ServeSettings, named as the environment spells them."""
    out = []
    for err in e.errors():
        loc = str(err["loc"][0]).upper() if err["loc"] else ""
        msg = err["msg"].removeprefix("Value error, ")
        secret = "REDIS_URL" in loc  # may carry a password: never echoed
        shown = "" if secret or err.get("input") is None else f"={err['input']!r}"
        out.append(f"environment: {loc or 'settings'}{shown}: {msg}")
    return out


def get_serve_settings(**overrides) -> ServeSettings:
    """The service's settings from the environment (and .env), command-line values on top.
    ConfigError (exit 2) lists every problem."""
    try:
        return ServeSettings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as e:
        raise ConfigError(serve_problems(e)) from None
