"""A self-contained HTML impact report of one dry run (`idr dry-run show RUN_ID --report F.html`).

One file a data steward can open or attach to a ticket: inline CSS and inline SVG, no
scripts, no external assets (a Content-Security-Policy forbids them as a second line of
defence). Entity keys and resolved ids are user data: every value goes through escape().
Everything is read from idr_out.dry_run_results / dry_run_summary, which hold the complete
before/after membership of every cluster that changes, so the report needs nothing else.
"""

from __future__ import annotations

from ..backends import as_backend
from html import escape

from . import html_why
from .model import DryRunSummary, load_summary

MAX_MERGES = 10       # merges shown, largest first
MAX_PARTS = 12        # contributing current clusters shown per merge
MAX_KEYS = 12         # member entity keys shown per contributing cluster
MAX_SPLITS = 10

# Histogram bins by powers of two: bin k holds sizes in (2^(k-1), 2^k]; bin 0 is size 1.
HISTOGRAM_SQL = """
    WITH cur AS (SELECT current_resolved_id AS rid, max(current_cluster_size) AS size
                 FROM idr_out.dry_run_results WHERE run_id = $run_id AND current_resolved_id IS NOT NULL
                 GROUP BY 1),
    prop AS (SELECT proposed_resolved_id AS rid, max(proposed_cluster_size) AS size
             FROM idr_out.dry_run_results WHERE run_id = $run_id AND proposed_resolved_id IS NOT NULL
             GROUP BY 1),
    binned AS (SELECT 'current' AS side, CASE WHEN size <= 1 THEN 0 ELSE ceil(log2(size))::INT END AS bin FROM cur
               UNION ALL
               SELECT 'proposed', CASE WHEN size <= 1 THEN 0 ELSE ceil(log2(size))::INT END FROM prop)
    SELECT bin, count(*) FILTER (WHERE side = 'current'), count(*) FILTER (WHERE side = 'proposed')
    FROM binned GROUP BY bin ORDER BY bin
"""

MERGES_SQL = """
    SELECT proposed_resolved_id, max(proposed_cluster_size) AS size,
           count(DISTINCT current_resolved_id) AS parts, count(*) FILTER (WHERE change_type = 'NEW') AS new
    FROM idr_out.dry_run_results WHERE run_id = $run_id AND proposed_resolved_id IS NOT NULL
    GROUP BY 1 HAVING count(DISTINCT current_resolved_id) >= 2
    ORDER BY size DESC, proposed_resolved_id LIMIT $limit
"""

# The parts of each merge: one row per current cluster (NULL: new entities) feeding it.
PARTS_SQL = """
    SELECT proposed_resolved_id, current_resolved_id, count(*) AS n, max(current_cluster_size) AS cur_size,
           any_value(change_type) AS change_type, list(entity_key ORDER BY entity_key)[1:$keys] AS keys
    FROM idr_out.dry_run_results
    WHERE run_id = $run_id AND proposed_resolved_id IN (SELECT unnest($rids::VARCHAR[]))
    GROUP BY 1, 2 ORDER BY 1, n DESC, current_resolved_id NULLS LAST
"""

# Current clusters whose entities end up in 2+ proposed clusters, with how many go where.
SPLITS_SQL = """
    WITH parts AS (
        SELECT current_resolved_id AS cur, proposed_resolved_id AS prop, count(*) AS n,
               max(current_cluster_size) AS size
        FROM idr_out.dry_run_results WHERE run_id = $run_id AND current_resolved_id IS NOT NULL
        GROUP BY 1, 2)
    SELECT cur, max(size) AS size, list(prop ORDER BY n DESC, prop) FILTER (WHERE prop IS NOT NULL),
           list(n ORDER BY n DESC, prop) FILTER (WHERE prop IS NOT NULL),
           coalesce(sum(n) FILTER (WHERE prop IS NULL), 0)::BIGINT AS removed
    FROM parts GROUP BY cur HAVING count(prop) >= 2
    ORDER BY size DESC, cur LIMIT $limit
"""

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2330;margin:0;background:#f4f6f9}
main{max-width:1100px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:32px 0 10px;border-bottom:1px solid #d5dbe5;padding-bottom:4px}
.sub{color:#5b6577;margin:0 0 18px}.warn{background:#fff4d6;border:1px solid #f0cf70;border-radius:6px;padding:8px 12px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(165px,1fr));gap:10px}
.card{background:#fff;border:1px solid #dde3ec;border-radius:8px;padding:10px 12px}
.card b{display:block;font-size:21px;font-variant-numeric:tabular-nums}.card span{color:#5b6577;font-size:12px}
table{border-collapse:collapse;background:#fff;width:100%;margin:6px 0 14px;font-size:13px}
th,td{border:1px solid #dde3ec;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef2f7}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;width:1%;white-space:nowrap}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;overflow-wrap:anywhere}
.merge{background:#fff;border:1px solid #dde3ec;border-radius:8px;padding:10px 14px;margin:0 0 12px}
.parts{table-layout:fixed}.parts td.n,.parts th.n{width:auto}.merge h3{font-size:14px;margin:0 0 6px}.keys{margin:4px 0 0 0;padding-left:18px}.more{color:#5b6577}
.type{font:600 11px system-ui,sans-serif;background:#e6ebf3;border-radius:4px;padding:1px 5px;color:#39414f}
.why{margin:8px 0 2px;font-weight:600}.bridges{margin:0 0 6px;padding-left:18px}
.t-MOVED{color:#b4490a}.t-NEW{color:#1b7a35}.t-UNCHANGED{color:#5b6577}.t-REMOVED{color:#a1192a}
svg text{font:11px system-ui,sans-serif;fill:#39414f}
"""


def _bin_label(k: int) -> str:
    if k <= 1:
        return str(2 ** k)
    lo, hi = 2 ** (k - 1) + 1, 2 ** k
    return f"{lo:,}" if lo == hi else f"{lo:,}–{hi:,}"


def _nice_step(peak: int) -> int:
    """Tick step of 1, 2 or 5 times a power of ten giving at most five ticks above zero."""
    step = 1
    while True:
        for m in (1, 2, 5):
            if peak <= 5 * step * m:
                return step * m
        step *= 10


def _histogram_svg(bins: list[tuple[int, int, int]]) -> str:
    if not bins:
        return "<p>No clusters change in this dry run.</p>"
    w, h, left, bottom, top = 1040, 320, 56, 46, 34
    step = _nice_step(max(max(c, p) for _, c, p in bins))
    ticks = -(-max(max(c, p) for _, c, p in bins) // step)
    ymax = ticks * step
    slot = (w - left - 10) / len(bins)
    bar = min(34.0, slot * 0.38)
    plot_h = h - top - bottom
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="100%" viewBox="0 0 {w} {h}" '
             'role="img" aria-label="cluster size histogram">']
    for i in range(ticks + 1):  # horizontal grid with counts
        y = h - bottom - plot_h * i / ticks
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{w - 5}" y2="{y:.1f}" '
                     f'stroke="{"#8a93a3" if i == 0 else "#e3e7ee"}"/>'
                     f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{i * step:,}</text>')
    for j, (k, cur, prop) in enumerate(bins):
        x0 = left + j * slot + (slot - 2 * bar - 4) / 2
        for dx, value, colour in ((0, cur, "#5b7fb5"), (bar + 4, prop, "#e0822f")):
            bh = plot_h * value / ymax
            y = h - bottom - bh
            parts.append(f'<rect x="{x0 + dx:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{bh:.1f}" fill="{colour}">'
                         f'<title>{value:,} clusters</title></rect>')
            if value:
                parts.append(f'<text x="{x0 + dx + bar / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle">{value:,}</text>')
        parts.append(f'<text x="{left + j * slot + slot / 2:.1f}" y="{h - bottom + 16}" text-anchor="middle">'
                     f'{escape(_bin_label(k))}</text>')
    parts.append(f'<text x="{left + (w - left) / 2:.0f}" y="{h - 8}" text-anchor="middle">cluster size (entities)'
                 f'</text><text x="{left - 44}" y="12">clusters</text>')
    parts.append(f'<rect x="{w - 260}" y="2" width="12" height="12" fill="#5b7fb5"/>'
                 f'<text x="{w - 243}" y="12">current clusters</text>'
                 f'<rect x="{w - 130}" y="2" width="12" height="12" fill="#e0822f"/>'
                 f'<text x="{w - 113}" y="12">proposed clusters</text></svg>')
    return "".join(parts)


def _cards(s: DryRunSummary) -> str:
    items = [("Entities affected", s.affected_entities), ("New", s.new_entities), ("Moved", s.moved_entities),
             ("Removed", s.removed_entities), ("Unchanged (all)", s.unchanged_entities),
             ("Total after run", s.total_entities), ("Current clusters merging", s.merged_clusters),
             ("Merged clusters formed", s.merged_into_clusters), ("Clusters splitting", s.split_clusters),
             ("Largest proposed cluster", s.largest_proposed_cluster), ("Clusters after run", s.proposed_clusters),
             ("Edges would create", s.edges_would_create), ("Groups would skip", s.groups_would_skip),
             ("Values would exclude", s.values_would_exclude)]
    return '<div class="cards">' + "".join(
        f'<div class="card"><b>{v:,}</b><span>{escape(label)}</span></div>' for label, v in items) + "</div>"


def _warnings(s: DryRunSummary) -> str:
    if not s.warnings:
        return ""
    items = "".join(f"<li>{escape(w)}</li>" for w in s.warnings)
    return f'<div class="warn" id="warnings"><b>Warnings ({len(s.warnings):,})</b><ul>{items}</ul></div>'


def _plural(n: int, one: str, many: str) -> str:
    return one if n == 1 else many


def _keys(keys: list[str], total: int) -> str:
    shown = ", ".join(f"<code>{escape(k)}</code>" for k in keys)
    return shown + (f' <span class="more">… and {total - len(keys):,} more</span>' if total > len(keys) else "")


PARTS_HEAD = ('<colgroup><col style="width:17%"><col style="width:9%"><col style="width:8%"><col style="width:11%">'
              '<col></colgroup><tr><th>from current cluster</th><th class="n">its size now</th>'
              '<th class="n">entities</th><th>change</th><th>entity keys</th></tr>')


def _merges(db, s: DryRunSummary, mask: bool) -> str:
    run_id = s.run_id
    merges = db.rows(MERGES_SQL, {"run_id": run_id, "limit": MAX_MERGES})
    if not merges:
        return "<p>No current clusters combine in this dry run.</p>"
    why = html_why.bridges(db, run_id, [m[0] for m in merges], mask)
    parts: dict[str, list[tuple]] = {}
    for rid, *part in db.rows(
            PARTS_SQL, {"run_id": run_id, "rids": [m[0] for m in merges], "keys": MAX_KEYS}):
        parts.setdefault(rid, []).append(part)
    out = []
    for rid, size, n_parts, new in merges:
        rows = []
        for cur, n, cur_size, ctype, keys in parts.get(rid, [])[:MAX_PARTS]:
            source = "new entities" if cur is None else f"<code>{escape(cur)}</code>"
            what = "keeps its id" if ctype == "UNCHANGED" else escape(ctype)
            rows.append(f'<tr><td>{source}</td><td class="n">{"–" if cur_size is None else f"{cur_size:,}"}</td>'
                        f'<td class="n">{n:,}</td><td class="t-{escape(ctype)}">{what}</td>'
                        f'<td>{_keys(keys, n)}</td></tr>')
        hidden = len(parts.get(rid, [])) - MAX_PARTS
        newcomers = f" and {new:,} new {_plural(new, 'entity', 'entities')}" if new else ""
        more = f'<tr><td colspan="5" class="more">… and {hidden:,} more current clusters</td></tr>' if hidden > 0 else ""
        out.append(f'<div class="merge"><h3><code>{escape(rid)}</code>: {size:,} entities from {n_parts:,} current '
                   f'clusters{newcomers}</h3>{why.get(rid, "")}'
                   f'<table class="parts">{PARTS_HEAD}{"".join(rows)}{more}</table></div>')
    hidden = s.merged_into_clusters - len(merges)
    if hidden > 0:
        out.append(f'<p class="more">… and {hidden:,} more merges (all of them: '
                   f'<code>idr_out.dry_run_results</code>, <code>idr_out.dry_run_bridges</code>)</p>')
    return "".join(out)


def _splits(db, s: DryRunSummary) -> str:
    run_id = s.run_id
    splits = db.rows(SPLITS_SQL, {"run_id": run_id, "limit": MAX_SPLITS})
    if not splits:
        return "<p>No current cluster breaks apart in this dry run.</p>"
    rows = []
    for rid, size, props, counts, removed in splits:
        where = ", ".join(f"<code>{escape(p)}</code> ({n:,})" for p, n in zip(props[:MAX_PARTS], counts))
        more = f' <span class="more">… and {len(props) - MAX_PARTS:,} more</span>' if len(props) > MAX_PARTS else ""
        rows.append(f'<tr><td><code>{escape(rid)}</code></td><td class="n">{size:,}</td>'
                    f'<td class="n">{len(props):,}</td><td>{where}{more}</td><td class="n">{removed:,}</td></tr>')
    hidden = s.split_clusters - len(splits)
    if hidden > 0:
        rows.append(f'<tr><td colspan="5" class="more">… and {hidden:,} more splits</td></tr>')
    return ('<table><tr><th>current cluster</th><th class="n">size now</th><th class="n">parts</th>'
            '<th>proposed clusters (entities from this cluster)</th><th class="n">removed</th></tr>'
            f'{"".join(rows)}</table>')


def render(db, run_id: str, mask: bool = False) -> str:
    """The report as one HTML page. mask: identifier values as type and hash only."""
    db = as_backend(db)
    s = load_summary(db, run_id)
    found = {k: (c, p) for k, c, p in db.rows(HISTOGRAM_SQL, {"run_id": run_id})}
    # Every bin from size 1 to the largest, empty ones too, so the x axis is a real scale.
    bins = [(k, *found.get(k, (0, 0))) for k in range(max(found) + 1)] if found else []
    created = "-" if s.created_at is None else f"{s.created_at:%Y-%m-%d %H:%M:%S} UTC"
    title = f"idr dry run {run_id}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title><style>{CSS}</style></head>
<body><main>
<h1>Dry run impact report</h1>
<p class="sub">Run <code>{escape(run_id)}</code> · mode {escape(s.mode)} · {escape(created)} ·
took {s.execution_seconds:,.2f} s</p>
<p class="warn">This was a dry run: nothing was published. Rows:
<code>SELECT * FROM idr_out.dry_run_results WHERE run_id = '{escape(run_id.replace("'", "''"))}'</code></p>
{_warnings(s)}
<h2>Summary</h2>{_cards(s)}
<h2 id="config">Configuration changes</h2>
{html_why.config_changes(db, s, mask)}
<h2 id="thresholds">Thresholds</h2>
{html_why.breaches(db, s)}
<h2>Cluster sizes involved: current vs proposed</h2>
<p class="sub">Clusters that gain or lose members (current) and the clusters they would become (proposed),
by size. Unchanged clusters are not counted here.</p>
{_histogram_svg(bins)}
<h2 id="merges">Largest merges</h2>
<p class="sub">Proposed clusters that combine entities of two or more current clusters, largest first
(up to {MAX_MERGES}), with the identifier values that bridge them (held by entities of two or more of
their parts{"; values masked: type and the first 12 hex digits of their SHA-256" if mask else ""}) and the
clusters they are made of.</p>
{_merges(db, s, mask)}
<h2 id="splits">Largest splits</h2>
<p class="sub">Current clusters whose entities would end up in two or more clusters (up to {MAX_SPLITS}).</p>
{_splits(db, s)}
</main></body></html>
"""


def write_report(db, run_id: str, path, mask: bool = False) -> None:
    """Write the report for `run_id` to `path` (UTF-8)."""
    text = render(db, run_id, mask)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
