"""Pairwise precision / recall of a clustering against the generator's ground truth.

All in SQL on the DuckDB connection, so it scales to 10M records without pulling rows
into Python.  With ``n`` records of true person ``p`` in predicted cluster ``c``:

* true positives  = sum over (c, p) of n(n-1)/2   (pairs both linked and truly the same)
* predicted pairs = sum over clusters c of n(n-1)/2
* true pairs      = sum over persons  p of n(n-1)/2

Truth records missing from the membership table count as singletons (the engine did not
link them); membership keys missing from the truth are reported, not scored.
"""

from __future__ import annotations

import duckdb

DEFAULT_MEMBERSHIP = "idr_out.identity_resolved_membership_current"
DEFAULT_TRUTH = "bench_truth"


def pairwise_metrics_sql(membership: str = DEFAULT_MEMBERSHIP, truth: str = DEFAULT_TRUTH) -> str:
    """One row: tp, predicted_pairs, true_pairs, records, persons, clusters, ...

    ``membership`` needs (entity_key, resolved_id); ``truth`` needs (entity_key, person_id).
    Both are table names from our own code, never user input.
    """
    return f"""
WITH joined AS (
  SELECT t.person_id,
         m.resolved_id IS NULL AS unresolved,
         coalesce(m.resolved_id::VARCHAR, 'unresolved:' || t.entity_key) AS rid
  FROM {truth} t LEFT JOIN {membership} m ON m.entity_key = t.entity_key
), cells AS (  -- one row per (predicted cluster, true person)
  SELECT rid, person_id, count(*)::BIGINT AS n FROM joined GROUP BY rid, person_id
), clusters AS (
  SELECT rid, sum(n)::BIGINT AS n, count(*) AS persons_in FROM cells GROUP BY rid
), persons AS (
  SELECT person_id, sum(n)::BIGINT AS n, count(*) AS clusters_in FROM cells GROUP BY person_id
)
SELECT
  (SELECT coalesce(sum(n * (n - 1) // 2), 0)::BIGINT FROM cells) AS tp,
  (SELECT coalesce(sum(n * (n - 1) // 2), 0)::BIGINT FROM clusters) AS predicted_pairs,
  (SELECT coalesce(sum(n * (n - 1) // 2), 0)::BIGINT FROM persons) AS true_pairs,
  (SELECT count(*) FROM joined) AS records,
  (SELECT count(*) FILTER (WHERE unresolved) FROM joined) AS records_unresolved,
  (SELECT count(*) FROM persons) AS persons,
  (SELECT count(*) FROM clusters) AS clusters,
  -- a person resolved exactly: all of its records in one cluster holding nothing else
  (SELECT count(*) FROM persons p JOIN cells c USING (person_id)
     JOIN clusters k USING (rid)
   WHERE p.clusters_in = 1 AND k.persons_in = 1) AS persons_exact,
  (SELECT count(*) FROM {membership} m ANTI JOIN {truth} t ON m.entity_key = t.entity_key)
    AS membership_not_in_truth,
  (SELECT count(*) - count(DISTINCT entity_key) FROM {membership})
    AS membership_duplicate_keys
"""


def pairwise_metrics(con: duckdb.DuckDBPyConnection, membership: str = DEFAULT_MEMBERSHIP,
                     truth: str = DEFAULT_TRUTH) -> dict:
    """Counts plus precision, recall and F1 (precision is None when nothing was linked)."""
    rel = con.execute(pairwise_metrics_sql(membership, truth))
    names = [d[0] for d in rel.description]
    out = dict(zip(names, (int(v) for v in rel.fetchall()[0])))
    tp, pred, true = out["tp"], out["predicted_pairs"], out["true_pairs"]
    precision = tp / pred if pred else None
    recall = tp / true if true else None
    if precision is None or recall is None:
        f1 = 0.0 if recall == 0 else None
    else:
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    out.update(precision=precision, recall=recall, f1=f1)
    return out
