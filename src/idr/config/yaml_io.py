"""YAML <-> Config. A convenience around the idr_meta tables, which stay the truth."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from ..errors import ConfigError, InputError
from .models import Config


def load_yaml(path: str | Path) -> Config:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{p}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{p}: cannot read ({e})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        where = ""
        mark = getattr(e, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise InputError(f"{p}: not valid YAML{where}: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(f"{p}: expected a mapping with sources, rules, exclusions, config")
    # config values are text in idr_meta.config; accept numbers and lists in YAML for comfort.
    if isinstance(data.get("config"), dict):
        data["config"] = {k: _as_text(v) for k, v in data["config"].items()}
    try:
        return Config.model_validate(data)
    except ValidationError as e:
        raise ConfigError([f"{p}: {_loc(err['loc'])}: {err['msg']}" for err in e.errors()]) from None


def _as_text(v) -> str:
    import json

    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, dict)):
        return json.dumps(v)
    return str(v)


def _loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def dump_yaml(cfg: Config) -> str:
    data = cfg.model_dump(exclude_none=True)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
