"""A small, independent deterministic linker: the yardstick for idr's quality numbers.

It applies the benchmark config's rules the obvious way (normalise in SQL, drop
placeholders and the exclusion, skip groups above ``max_group_size``, star edges, exact
connected components with scipy) so you can see what "high but honest" means for a
generated data set before, and alongside, idr:

    python benchmarks/reference.py bench_1m.duckdb

It is a yardstick, not a second engine: its phone rule is "10 NANP digits, not one
digit repeated" where idr uses libphonenumber, so small differences are expected.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import SOURCES  # noqa: E402
from metrics import pairwise_metrics  # noqa: E402

MAX_GROUP_SIZE = {"EMAIL": 10_000, "PHONE": 5_000, "LOYALTY_ID": 100}
EXCLUDED = {("EMAIL", "test@test.com")}
PLACEHOLDERS = ["", "N/A", "NA", "NONE", "NULL", "UNKNOWN", "0", "-", "?"]


def _identifiers_sql(schema: str) -> str:
    parts = []
    for table_id, table, key_col, _, idents in SOURCES:
        for itype, col in idents:
            parts.append(f"SELECT concat('{table_id}:', {key_col}) AS entity_key, "
                         f"'{itype}' AS itype, {col} AS raw FROM {schema}.{table}")
    return " UNION ALL ".join(parts)


def canonical_sql(schema: str) -> str:
    placeholders = ", ".join(f"'{p}'" for p in PLACEHOLDERS)
    excluded = " OR ".join(f"(itype = '{t}' AND v = '{v}')" for t, v in EXCLUDED)
    return f"""
WITH ids AS ({_identifiers_sql(schema)}),
canon AS (
  SELECT entity_key, itype,
    CASE itype
      WHEN 'EMAIL' THEN CASE WHEN regexp_full_match(lower(trim(raw, ' \t')),
                                                    '[^@\\s]+@[^@\\s]+\\.[^@\\s]+')
                             THEN lower(trim(raw, ' \t')) END
      WHEN 'PHONE' THEN NULL
      ELSE upper(trim(raw, ' \t')) END AS v0,
    regexp_replace(raw, '[^0-9]', '', 'g') AS digits
  FROM ids
  WHERE raw IS NOT NULL AND upper(trim(raw, ' \t')) NOT IN ({placeholders})
), canon2 AS (
  SELECT entity_key, itype,
    CASE WHEN itype <> 'PHONE' THEN v0
         ELSE (CASE WHEN length(digits) = 11 AND digits[1] = '1' THEN digits[2:] ELSE digits END)
    END AS v
  FROM canon
)
SELECT entity_key, itype, v FROM canon2
WHERE v IS NOT NULL
  AND (itype <> 'PHONE' OR (regexp_full_match(v, '[2-9][0-9]{{2}}[2-9][0-9]{{6}}')
                            AND v <> repeat(v[1], 10)))
  AND NOT ({excluded or 'FALSE'})
"""


def link(con: duckdb.DuckDBPyConnection, schema: str = "main",
         out_table: str = "ref_membership") -> dict:
    """Write ``out_table(entity_key, resolved_id)`` for every record; return stats."""
    # Imported here so that peer_splink.py can reuse the SQL above in Splink's own venv.
    import numpy as np
    import pyarrow as pa
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    t0 = time.perf_counter()
    caps = " ".join(f"WHEN '{t}' THEN {n}" for t, n in MAX_GROUP_SIZE.items())
    con.execute(f"CREATE OR REPLACE TABLE ref_ident AS {canonical_sql(schema)}")
    con.execute("CREATE OR REPLACE TABLE ref_entities AS "
                "SELECT entity_key, (row_number() OVER (ORDER BY entity_key) - 1)::BIGINT AS eid "
                f"FROM ({' UNION ALL '.join(f'SELECT concat({chr(39)}{s[0]}:{chr(39)}, {s[2]}) AS entity_key FROM {schema}.{s[1]}' for s in SOURCES)})")
    con.execute(f"""
CREATE OR REPLACE TABLE ref_groups AS
SELECT i.itype, i.v, e.eid, count(*) OVER (PARTITION BY i.itype, i.v) AS group_size,
       CASE i.itype {caps} END AS cap
FROM ref_ident i JOIN ref_entities e USING (entity_key)""")
    skipped = con.execute("SELECT count(DISTINCT (itype, v)), count(*) FROM ref_groups "
                          "WHERE group_size > cap").fetchall()[0]
    edges = con.execute("""
SELECT eid, min(eid) OVER (PARTITION BY itype, v) AS anchor FROM ref_groups
WHERE group_size <= cap AND group_size > 1""").fetchnumpy()
    n = con.execute("SELECT count(*) FROM ref_entities").fetchall()[0][0]
    src, dst = edges["eid"].astype(np.int64), edges["anchor"].astype(np.int64)
    graph = coo_matrix((np.ones(len(src), dtype=np.int8), (src, dst)), shape=(n, n)).tocsr()
    n_comp, labels = connected_components(graph, directed=True, connection="weak")
    labels_tbl = pa.table({"eid": np.arange(n, dtype=np.int64), "label": labels.astype(np.int64)})
    con.register("ref_labels_view", labels_tbl)
    con.execute(f"CREATE OR REPLACE TABLE {out_table} AS "
                "SELECT e.entity_key, l.label AS resolved_id FROM ref_entities e "
                "JOIN ref_labels_view l USING (eid)")
    con.unregister("ref_labels_view")
    return {"records": n, "clusters": int(n_comp), "edges": int(len(src)),
            "groups_skipped": int(skipped[0]), "records_in_skipped_groups": int(skipped[1]),
            "seconds": round(time.perf_counter() - t0, 2)}


def evaluate(db: str | Path) -> dict:
    """Reference linkage of a generated DB (opened read-only) and its pairwise metrics."""
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    path = Path(db).as_posix().replace("'", "''")
    con.execute(f"ATTACH '{path}' AS src (READ_ONLY)")
    stats = link(con, schema="src")
    stats["quality"] = pairwise_metrics(con, membership="ref_membership",
                                        truth="src.bench_truth")
    con.close()
    return stats


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("db", help="a DuckDB file written by benchmarks/generate.py")
    args = ap.parse_args(argv)
    print(json.dumps(evaluate(args.db), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
