"""The "why" of a dry-run impact report: the identifier values that bridge each merge, the
thresholds the proposed state breaches, and what changed in the configuration.

Identifier values are the steward's evidence, so they are shown as they are; with mask=True
(`idr dry-run show --mask`, for reports that leave the team) only the identifier type and
the first 12 hex digits of the value's SHA-256 are. Every value goes through escape().
"""

from __future__ import annotations

import hashlib
import json
from html import escape

from ..config.models import SETTINGS
from .config_diff import compare
from .model import DryRunSummary

MAX_BRIDGES = 5    # bridging values shown per merge, most parts first
MAX_LARGE = 10     # clusters over large_cluster_threshold shown
HASH_DIGITS = 12

BRIDGES_SQL = """
    SELECT proposed_resolved_id, identifier_type, identifier_value_norm, parts, entities,
           count(*) OVER (PARTITION BY proposed_resolved_id) AS total
    FROM idr_out.dry_run_bridges
    WHERE run_id = $run_id AND proposed_resolved_id IN (SELECT unnest($rids::VARCHAR[]))
    QUALIFY row_number() OVER (PARTITION BY proposed_resolved_id
                               ORDER BY parts DESC, entities DESC, identifier_type, identifier_value_norm) <= $limit
    ORDER BY proposed_resolved_id, parts DESC, entities DESC, identifier_type, identifier_value_norm
"""

LARGE_SQL = """
    SELECT proposed_resolved_id, max(proposed_cluster_size) AS size,
           count(DISTINCT current_resolved_id) AS parts, count(*) OVER () AS total
    FROM idr_out.dry_run_results
    WHERE run_id = $run_id AND proposed_cluster_size > $threshold
    GROUP BY 1 ORDER BY size DESC, 1 LIMIT $limit
"""


def masked(value: str) -> str:
    return "sha256:" + hashlib.sha256(value.encode("utf-8")).hexdigest()[:HASH_DIGITS]


def value_html(identifier_type: str | None, value: str | None, mask: bool) -> str:
    """An identifier value with its type: `<TYPE> value`, or `<TYPE> sha256:…` when masked."""
    if value is None:
        return "–"
    shown = masked(value) if mask else value
    kind = f'<span class="type">{escape(identifier_type)}</span> ' if identifier_type else ""
    return f"{kind}<code>{escape(shown)}</code>"


def more(hidden: int, what: str) -> str:
    return f' <span class="more">… and {hidden:,} more {escape(what)}</span>' if hidden > 0 else ""


def bridges(db, run_id: str, rids: list[str], mask: bool) -> dict[str, str]:
    """Per merge (proposed id): an HTML list of the values that bridge its parts."""
    found: dict[str, list] = {}
    for rid, t, value, parts, entities, total in db.rows(
            BRIDGES_SQL, {"run_id": run_id, "rids": rids, "limit": MAX_BRIDGES}):
        found.setdefault(rid, []).append((t, value, parts, entities, total))
    out = {}
    for rid, rows in found.items():
        items = "".join(f"<li>{value_html(t, v, mask)}: shared by {n:,} entities of {p:,} parts</li>"
                        for t, v, p, n, _ in rows)
        out[rid] = (f'<p class="why">Bridged by</p><ul class="bridges">{items}</ul>'
                    + more(rows[0][4] - len(rows), "values"))
    return out


def _settings(db, run_id: str) -> dict:
    row = db.rows("SELECT config_snapshot FROM idr_out.run_history WHERE run_id = ?", [run_id])
    return json.loads(row[0][0]).get("config", {}) if row and row[0][0] else {}


def breaches(db, s: DryRunSummary) -> str:
    """Clusters over large_cluster_threshold among the clusters that change, and groups over
    max_group_size."""
    parts = []
    raw = _settings(db, s.run_id).get("large_cluster_threshold", SETTINGS["large_cluster_threshold"][0])
    threshold = int(raw)
    rows = db.rows(LARGE_SQL, {"run_id": s.run_id, "threshold": threshold, "limit": MAX_LARGE})
    if rows:
        items = "".join(f'<tr><td><code>{escape(rid)}</code></td><td class="n">{size:,}</td>'
                        f'<td class="n">{n:,}</td></tr>' for rid, size, n, _ in rows)
        hidden = rows[0][3] - len(rows)
        extra = f'<tr><td colspan="3" class="more">… and {hidden:,} more clusters</td></tr>' if hidden > 0 else ""
        parts.append(f"<p>Proposed clusters that change and are larger than <code>large_cluster_threshold</code> = "
                     f"{threshold:,}:</p><table><tr><th>proposed cluster</th><th class=\"n\">size</th>"
                     f"<th class=\"n\">current clusters in it</th></tr>{items}{extra}</table>")
    else:
        parts.append(f"<p>No cluster that changes is larger than <code>large_cluster_threshold</code> = "
                     f"{threshold:,}.</p>")
    if s.groups_would_skip:
        parts.append(f"<p>{s.groups_would_skip:,} identifier groups are larger than their rule's "
                     "<code>max_group_size</code>: they would link nothing.</p>")
    return "".join(parts)


def config_changes(db, s: DryRunSummary, mask: bool) -> str:
    c = compare(db, s.run_id, s.compared_to_run_id)
    if c.compared_to is None:
        return "<p>Nothing was published before this dry run: every cluster is new.</p>"
    against = f"the published run <code>{escape(c.compared_to)}</code>"
    if not c.known:
        said = "changed" if c.fingerprint_changed else "did not change"
        return (f"<p>Compared with {against}: the configuration fingerprint {said}; the details were not "
                "recorded for runs of earlier idr versions.</p>")
    if not c.changes:
        return f"<p>The configuration is the same as for {against}: the changes come from the data.</p>"
    rows = []
    for ch in c.changes:
        def side(v):
            if v is None:
                return "–"
            return value_html(ch.identifier_type, v, mask) if ch.identifier_type else f"<code>{escape(v)}</code>"
        rows.append(f"<tr><td>{escape(ch.what)}</td><td>{escape(ch.field or '')}</td>"
                    f"<td>{side(ch.before)}</td><td>{side(ch.after)}</td></tr>")
    return (f"<p>Changed since {against}:</p><table><tr><th>what</th><th>field</th><th>before</th>"
            f"<th>in this dry run</th></tr>{''.join(rows)}</table>")
