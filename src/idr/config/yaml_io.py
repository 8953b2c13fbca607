"""YAML <-> Config. A convenience around the idr_meta tables, which stay the truth."""

from __future__ import annotations

import difflib
import typing
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

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
        loader = yaml.SafeLoader(text)
        try:
            root = loader.get_single_node()  # kept: its marks give each key's line
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
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
        raise ConfigError([_problem(p, root, data, err) for err in e.errors()]) from None


def _problem(path: Path, root, data: dict, err: dict) -> str:
    """One validation error as: file, line, which source or rule, what is wrong, and for
    an unknown field the known field it most resembles."""
    loc = tuple(err["loc"])
    line = _line(root, loc)
    where = f"{path}, line {line}" if line else str(path)
    owner = loc[:-1] if err["type"] == "extra_forbidden" else loc
    label = _loc(owner[:2]) if owner else "(top level)"
    if owner[:1] == ("sources",) and len(owner) >= 2 and isinstance(owner[1], int):
        table_id = _get(data, ("sources", owner[1], "table_id"))
        if isinstance(table_id, str):
            label += f" (table_id {table_id!r})"
    rest = _loc(owner[2:]) if len(owner) > 2 else ""
    if err["type"] == "extra_forbidden":
        known = list(_model_at(owner).model_fields) if _model_at(owner) else []
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else (f" (known: {', '.join(known)})" if known else "")
        inside = f" in {rest}" if rest else ""
        return f"{where}: {label}: unknown field {loc[-1]!r}{inside}{hint}"
    return f"{where}: {label}{': ' + rest if rest else ''}: {err['msg']}"


def _model_at(loc: tuple) -> type[BaseModel] | None:
    """The model that validates the mapping at `loc` (list indexes skipped)."""
    model: type[BaseModel] = Config
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        inner = typing.get_args(field.annotation) if field is not None else ()
        inner = inner[0] if inner else (field.annotation if field is not None else None)
        if not (isinstance(inner, type) and issubclass(inner, BaseModel)):
            return None
        model = inner
    return model


def _get(data, loc: tuple):
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _line(node, loc: tuple) -> int | None:
    """1-based line of the YAML node at `loc` (for a mapping key: the key's own line)."""
    line = None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if getattr(k, "value", None) == part), None)
            if match is None:
                break
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


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
