"""Logging: every line carries the run id and stage it belongs to, as plain text or JSON.

Where lines go: with --log-file PATH to that file, rotated at 10 MB with 5 older files
kept gzip-compressed (IDR_LOG_MAX_BYTES, IDR_LOG_BACKUP_COUNT); otherwise to standard
error. The level is IDR_LOG_LEVEL; unset, it is INFO for a file and WARNING for standard
error (the CLI already prints progress there).

What never appears: identifier values, entity keys, API keys and other credentials. idr
logs counts, names of stages and sources, and the type of an error, never the text of a
database error (DuckDB quotes the value it could not convert); and a filter masks the
secrets of the process settings in case a library logs them.
"""

from __future__ import annotations

import contextvars
import gzip
import logging
import logging.handlers
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

from .errors import InputError

RUN_ID = contextvars.ContextVar("idr_run_id", default="-")
STAGE = contextvars.ContextVar("idr_stage", default="-")
LOGGER = "idr"
PLAIN = "%(asctime)s %(levelname)s %(name)s run_id=%(run_id)s stage=%(stage)s %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(run_id)s %(stage)s %(message)s"
_HANDLER_MARK = "_idr_handler"


@contextmanager
def log_context(*, run_id: str | None = None, stage: str | None = None):
    """Lines logged inside carry this run id and/or stage."""
    tokens = [(var, var.set(value)) for var, value in ((RUN_ID, run_id), (STAGE, stage)) if value is not None]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class ContextFilter(logging.Filter):
    """Adds run_id and stage to every record, and masks known secrets in its message."""

    def __init__(self, secrets: list[str]):
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        record.run_id = RUN_ID.get()
        record.stage = STAGE.get()
        if self.secrets:
            text = record.getMessage()
            for s in self.secrets:
                text = text.replace(s, "***")
            record.msg, record.args = text, None
        return True


def _gzip_rotator(source: str, dest: str) -> None:
    with open(source, "rb") as src, gzip.open(dest, "wb") as out:
        shutil.copyfileobj(src, out)
    os.remove(source)


def file_handler(path: Path, max_bytes: int, backups: int) -> logging.Handler:
    """A size-rotating handler whose older files are gzip-compressed (PATH.1.gz, ...)."""
    if path.is_dir():
        raise InputError(f"--log-file {path}: is a directory")
    if not path.parent.is_dir():
        raise InputError(f"--log-file {path}: directory {path.parent} does not exist")
    try:
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups,
                                                       encoding="utf-8")
    except OSError as e:
        raise InputError(f"--log-file {path}: cannot be written ({e.strerror or e})") from None
    handler.namer = lambda name: name + ".gz"
    handler.rotator = _gzip_rotator
    return handler


def configure(*, log_format: str | None = None, log_file: str | None = None) -> None:
    """Set up the `idr` logger from the process settings and the command line (which wins)."""
    from .settings import get_settings

    s = get_settings()
    fmt = (log_format or s.log_format).lower()
    path = Path(log_file) if log_file else s.log_file
    if path is not None:
        handler = file_handler(Path(path), s.log_max_bytes, s.log_backup_count)
        level = s.log_level or "INFO"
    else:
        handler = logging.StreamHandler()
        level = s.log_level or "WARNING"
    if fmt == "json":
        from pythonjsonlogger.json import JsonFormatter

        handler.setFormatter(JsonFormatter(JSON_FIELDS, rename_fields={"levelname": "level", "name": "logger",
                                                                        "asctime": "time"}))
    else:
        handler.setFormatter(logging.Formatter(PLAIN))
    secrets = [v.get_secret_value() for v in (s.webhook_secret, s.dd_api_key) if v is not None]
    handler.addFilter(ContextFilter(secrets))
    setattr(handler, _HANDLER_MARK, True)
    logger = logging.getLogger(LOGGER)
    for old in [h for h in logger.handlers if getattr(h, _HANDLER_MARK, False)]:
        logger.removeHandler(old)
        old.close()
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
