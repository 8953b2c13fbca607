"""Console text for `idr explain` and `idr show`."""

from __future__ import annotations

from .common import mask
from .explain import Explanation
from .show import ShowResult

REASONS = {
    "skipped": "they share a value whose group is larger than max_group_size, so it links nobody",
    "excluded": "they share a value on the exclusion list (idr_meta.identifier_exclusion)",
    "placeholder": "they share a placeholder value (placeholder_values), which never links",
    "invalid": "they share a value the canonicaliser rejects as invalid, which never links",
    "nothing shared": "they share no identifier value, and their clusters share no skipped value",
}


def format_explanation(e: Explanation, masked: bool) -> str:
    text = _explanation(e, masked)
    return f"{text}\nNOTE: {e.note}" if e.note else text


def _explanation(e: Explanation, masked: bool) -> str:
    if e.key_a == e.key_b:
        return f"{e.key_a} is the same record (cluster {e.resolved_id_a})"
    if e.linked:
        lines = [f"{e.key_a} and {e.key_b} are linked (cluster {e.resolved_id_a}), "
                 f"{len(e.hops)} hop{'s' if len(e.hops) != 1 else ''}:"]
        for i, h in enumerate(e.hops, 1):
            lines += [f"  {i}. {h.from_key} ({h.from_table}) -- {h.identifier_type} "
                      f"{mask(h.value_norm, masked)} --> {h.to_key} ({h.to_table})",
                      f"     rule {h.rule_id}; as in the sources: {_raw(h.raw_from, masked)} | {_raw(h.raw_to, masked)}"]
        return "\n".join(lines)
    lines = [f"{e.key_a} (cluster {e.resolved_id_a}) and {e.key_b} (cluster {e.resolved_id_b}) are not linked:",
             f"  {REASONS.get(e.reason, e.reason)}."]
    for d in e.details:
        value = mask(d["value_norm"], masked) if d["value_norm"] is not None else "(invalid)"
        line = f"  - {d['identifier_type']} {value} (rule {d.get('rule_id')}): {d['reason']}"
        if "group_size" in d:
            line += f", group of {d['group_size']:,} > max_group_size {d['max_allowed']:,}"
        if "raw_a" in d:
            line += f"; as in the sources: {mask(d['raw_a'], masked)!s} | {mask(d['raw_b'], masked)!s}"
        if "member_a" in d:
            line += f"; held by {d['member_a']} and {d['member_b']}"
        lines.append(line)
    return "\n".join(lines)


def _raw(values: tuple, masked: bool) -> str:
    return ", ".join(repr(mask(v, masked)) for v in values) or "-"


def format_show(r: ShowResult, masked: bool) -> str:
    out = []
    for c in r.cards:
        out += [f"cluster {c.resolved_id}: {c.cluster_size:,} record(s)"
                + (f", golden profile by {c.run_id} at {c.updated_ts:%Y-%m-%d %H:%M:%S} UTC" if c.run_id else "")]
        more = f" (first {len(c.members)})" if len(c.members) < c.cluster_size else ""
        out.append(f"  members{more}:")
        out += [f"    {k}  ({t})" for k, t in c.members]
        out.append("  identifiers (type, value, records holding it):")
        out += [f"    {t:<12} {mask(v, masked):<40} {n:>6}" + ("  skipped: over max_group_size" if s else "")
                for t, v, n, s in c.identifiers] or ["    (none)"]
        out.append("  golden profile (attribute, value, from record, strategy):")
        out += [f"    {a:<20} {mask(v, masked):<30} {k or '-':<24} {s or '-'}" for a, v, k, s in c.golden] \
            or ["    (no attributes configured)"]
        out.append("  lineage of the id:")
        out += [f"    {run}  {ev:<5} {rid} <- {rel} ({n:,} record(s))" if ev == "MERGE"
                else f"    {run}  {ev:<5} {rid} -> {rel} ({n:,} record(s))"
                for run, ev, rid, rel, n, _ in c.lineage] or ["    (no merges or splits)"]
    if r.note:
        out.append(f"NOTE: {r.note}")
    return "\n".join(out)
