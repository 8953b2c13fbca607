"""What changed in the configuration between the published run and a dry run.

Every run records the configuration it used in run_history.config_snapshot (JSON of the
Config model, runs/state.py). Two snapshots give a list of changes a steward can read:
sources and their identifier mappings, rules, exclusions and settings, added, removed or
changed field by field. Runs recorded before the snapshot existed only have their
fingerprint: then all that can be said is whether it changed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..config.models import SETTINGS

RUN_SQL = "SELECT config_snapshot, config_fingerprint FROM idr_out.run_history WHERE run_id = ?"


@dataclass(frozen=True)
class Change:
    what: str                 # e.g. "rule phone", "source crm", "setting large_cluster_threshold"
    field: str | None         # the field that changed; None: the whole item was added or removed
    before: str | None
    after: str | None
    identifier_type: str | None = None  # set when before/after are identifier values (exclusions)


@dataclass(frozen=True)
class ConfigComparison:
    compared_to: str | None     # the published run; None when nothing was published
    changes: tuple[Change, ...]
    known: bool                 # False: a snapshot is missing, only the fingerprints were compared
    fingerprint_changed: bool


def _text(v) -> str | None:
    return None if v is None else (json.dumps(v) if isinstance(v, (list, dict)) else str(v))


def _keyed(items: list[dict], key: str) -> dict[str, dict]:
    return {str(i[key]): i for i in items}


def _fields(what: str, old: dict, new: dict, skip=()) -> list[Change]:
    return [Change(what, f, _text(old.get(f)), _text(new.get(f)))
            for f in sorted(set(old) | set(new)) if f not in skip and old.get(f) != new.get(f)]


def diff(before: dict, after: dict) -> list[Change]:
    out: list[Change] = []
    for section, key, label in (("sources", "table_id", "source"), ("rules", "rule_id", "rule")):
        old, new = _keyed(before.get(section, []), key), _keyed(after.get(section, []), key)
        for k in sorted(set(old) | set(new)):
            what = f"{label} {k}"
            if k not in new:
                out.append(Change(what, None, "present", None))
            elif k not in old:
                out.append(Change(what, None, None, "added"))
            else:
                out += _fields(what, old[k], new[k], skip=("identifiers",))
                if section == "sources":
                    maps = [{(m["identifier_type"], m["identifier_value_expr"], m.get("is_hashed", False))
                             for m in side[k].get("identifiers", [])} for side in (old, new)]
                    out += [Change(what, f"identifier {t}", e, None) for t, e, _ in sorted(maps[0] - maps[1])]
                    out += [Change(what, f"identifier {t}", None, e) for t, e, _ in sorted(maps[1] - maps[0])]
    excl = [{(e["identifier_type"], e["identifier_value_pattern"], bool(e.get("is_pattern"))): e
             for e in side.get("exclusions", [])} for side in (before, after)]
    for (t, pattern, is_pattern) in sorted(set(excl[0]) ^ set(excl[1])):
        kind = "exclusion (LIKE pattern)" if is_pattern else "exclusion"
        gone = (t, pattern, is_pattern) in excl[0]
        out.append(Change(kind, None, pattern if gone else None, None if gone else pattern, identifier_type=t))
    settings = [side.get("config", {}) for side in (before, after)]
    for k in sorted(set(settings[0]) | set(settings[1])):
        default = SETTINGS.get(k, ("",))[0]
        old, new = settings[0].get(k, default), settings[1].get(k, default)
        if old != new:
            out.append(Change(f"setting {k}", None, _redact(k, old), _redact(k, new)))
    return out


def _redact(key: str, value: str) -> str:
    """URLs in settings may carry credentials or tokens: show them as messages do."""
    if key.endswith("_url") and value:
        from ..metrics.retry import redact_url

        return redact_url(value)
    return value


def compare(db, run_id: str, compared_to: str | None) -> ConfigComparison:
    """The configuration of dry run `run_id` against that of the published run it was
    compared with."""
    if compared_to is None:
        return ConfigComparison(None, (), True, False)
    rows = {r: db.rows(RUN_SQL, [r]) for r in (run_id, compared_to)}
    (snap_new, fp_new), (snap_old, fp_old) = (rows[r][0] if rows[r] else (None, None) for r in (run_id, compared_to))
    if snap_new is None or snap_old is None:
        return ConfigComparison(compared_to, (), False, fp_new != fp_old)
    return ConfigComparison(compared_to, tuple(diff(json.loads(snap_old), json.loads(snap_new))), True,
                            fp_new != fp_old)
