"""The anomaly gate: judge a computed run against the runs published before it, before it publishes.

Each figure of the run (merges, splits, clusters, ...) is compared with the same figure
of the trailing published runs of the same mode, by median and MAD (median absolute
deviation), which a few odd runs in the history do not drag along as a mean and standard
deviation would. A figure is anomalous when it lies further from the median than
`gate_mad_threshold` scaled MADs, and further than `gate_min_change` and
`gate_min_relative_change` x median (without these floors a perfectly steady history,
MAD 0, would flag any change at all). Absolute limits are checked beside the statistics,
from the first run on: merges or splits as a fraction of the clusters published before
(`gate_max_merge_fraction`, `gate_max_split_fraction`) and ceilings per figure (`gate_max`).

Every flagged figure then does what its mode says (`gate_modes`, else `gate_mode`):
  off   ignored;
  warn  the run publishes with SUCCESS_WITH_WARNINGS and the reason in its warnings;
  hold  nothing is published: the run ends HELD and its computed result is kept in
        idr_work (keep_result) until `idr approve` publishes it or `idr reject` drops it.
Settings are parsed by parse_settings(), called by configuration validation.
"""

from __future__ import annotations

import json

from ..config.gate import FIGURES, GATE_SETTINGS, MODES, Flag, GateSettings, Verdict, judge_figures, parse_settings
from ..sql.quoting import ident, qualified

__all__ = ["FIGURES", "GATE_SETTINGS", "MODES", "Flag", "GateSettings", "Verdict", "judge", "judge_figures",
           "parse_settings", "hold", "record", "keep_result", "restore_result", "drop_result"]



def _history(db, mode: str, limit: int) -> list[dict]:
    """Figures of the last `limit` published runs of this mode, not rolled back, newest first."""
    cols = ", ".join(col for _, col in FIGURES.values())
    rows = db.rows(
        f"SELECT {cols} FROM idr_out.run_history WHERE run_mode = ? "
        "AND status IN ('SUCCESS', 'SUCCESS_WITH_WARNINGS') AND rolled_back_by IS NULL "
        "ORDER BY started_at DESC, run_id DESC LIMIT ?", [mode, limit])
    return [dict(zip(FIGURES, r)) for r in rows]


def judge(ctx) -> Verdict:
    """The gate's verdict on a computed run (a RunContext after the membership stage)."""
    s: GateSettings = ctx.plan.settings["gate"]
    history = _history(ctx.db, ctx.mode, s.history_runs)
    previous = None
    if ctx.baseline is not None and ctx.baseline.run_id is not None:
        previous = ctx.db.scalar("SELECT clusters_total FROM idr_out.run_history WHERE run_id = ?",
                                 [ctx.baseline.run_id])
    values = {f: ctx.counts.get(key) for f, (key, _) in FIGURES.items()}
    return Verdict(judge_figures(values, history, previous, s), len(history))


# ---- holding a computed result, and deciding on it later ----

HELD_PREFIX = "held_"


def held_table(run_id: str, relation: str) -> str:
    return qualified("idr_work", f"{HELD_PREFIX}{run_id}__{relation}")


def keep_result(db, run_id: str, relations: list[str]) -> list[str]:
    """Copy the session relations publishing reads into idr_work tables named by the run
    id, so `idr approve` can publish them later exactly as computed."""
    for r in relations:
        db.create_table(held_table(run_id, r), f"SELECT * FROM {ident(r)}")
    return list(relations)


def restore_result(db, run_id: str, relations: list[str]) -> None:
    """The kept relations back as the session relations publishing reads."""
    for r in relations:
        db.materialise(r, f"SELECT * FROM {held_table(run_id, r)}")


def drop_result(db, run_id: str) -> int:
    names = [t for (schema, t), kind in db.tables(["idr_work"]).items()
             if kind == "BASE TABLE" and t.startswith(f"{HELD_PREFIX}{run_id}__")]
    for name in names:
        db.run(f"DROP TABLE {qualified('idr_work', name)}")
    return len(names)


def record(db, run_id: str, verdict: Verdict) -> None:
    db.run("UPDATE idr_out.run_history SET gate_report = ? WHERE run_id = ?", [verdict.to_json(), run_id])


def hold(ctx, verdict: Verdict, relations) -> None:
    """Keep the run's computed result instead of publishing it. The caller owns the
    transaction and then finishes the run as HELD."""
    from .state import source_fingerprint

    kept = keep_result(ctx.db, ctx.run_id, list(relations))
    state = {"relations": kept,
             "watermarks": {t: wm.isoformat() for t, wm in ctx.watermarks.items() if wm is not None},
             "sources": {s.table_id: source_fingerprint(s) for s in ctx.plan.sources}}
    ctx.warnings.append(f"held by the anomaly gate, nothing published: `idr approve {ctx.run_id}` publishes this "
                        f"result, `idr reject {ctx.run_id}` discards it")
    ctx.db.run("UPDATE idr_out.run_history SET baseline_run_id = ?, held_state = ? WHERE run_id = ?",
               [ctx.baseline.run_id if ctx.baseline else None, json.dumps(state, sort_keys=True), ctx.run_id])
    record(ctx.db, ctx.run_id, verdict)
