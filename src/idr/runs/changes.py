"""INCR publishing: which published rows of a state table a run replaces, and which it adds.

The published table is read through its view (the current snapshot); only the rows inside
the run's scope are compared with the run's new rows, so the cost follows the delta. What
changed becomes the snapshot's change files (publish/snapshot.py write_changes): the
published table itself is never rewritten.
"""

from __future__ import annotations

from ..publish import snapshot
from ..sql.quoting import ident, qualified


def publish_changes(db, pending: snapshot.Pending, previous: dict | None, table: str, data_cols: list[str],
                    new_sql: str, scope_sql: str | None, stamps: dict, params: dict | None = None,
                    null_safe: bool = False, scope_rows: str | None = None) -> int:
    """Make the table's rows inside the scope equal to new_sql's rows (data columns only);
    rows that stay identical are kept as they are. New rows get the `stamps` columns'
    values (run id, timestamp), other columns NULL. Returns the number of rows written.

    previous: the table's entry in the published snapshot's manifest (None: write whole).
    scope_sql: a condition on the published table's rows; or scope_rows: a SELECT already
    giving those rows, every column in the table's order (the scope stage read them: no
    second pass over the published table)."""
    d = db.dialect
    t = qualified("idr_out", table)
    columns = [c for c, _ in db.describe(f"SELECT * FROM {t}")]
    cols = ", ".join(ident(c) for c in data_cols)
    eq = "IS NOT DISTINCT FROM" if null_safe else "="  # null_safe: for columns that hold NULLs
    same = " AND ".join(f"o.{ident(c)} {eq} n.{ident(c)}" for c in data_cols)
    db.materialise("idr_new_rows", f"SELECT DISTINCT * FROM ({new_sql}) AS n({cols})", params or {})
    db.materialise("idr_scope_rows", scope_rows or f"SELECT * FROM {t} WHERE {scope_sql}")
    db.materialise("idr_gone", "SELECT o.* FROM idr_scope_rows o" + d.anti_join("idr_new_rows n", on=same))
    db.materialise("idr_added", "SELECT n.* FROM idr_new_rows n" + d.anti_join("idr_scope_rows o", on=same))
    names = {c: f"stamp_{i}" for i, c in enumerate(stamps)}
    values = [f"a.{ident(c)}" if c in data_cols else d.param(names[c]) if c in stamps else "NULL"
              for c in columns]
    added = "SELECT " + ", ".join(f"{v} AS {ident(c)}" for v, c in zip(values, columns)) + " FROM idr_added a"
    snapshot.write_changes(db, pending, table, previous, "SELECT * FROM idr_gone", added,
                           {names[c]: v for c, v in stamps.items()})
    written = db.count("SELECT count(*) FROM idr_added")
    db.drop("idr_new_rows", "idr_scope_rows", "idr_gone", "idr_added")
    return written
