"""A seeded, realistic change set ("delta") applied to the generated sources, in SQL.

    python benchmarks/delta.py DB --records 1000000 [--pct 1] [--seed 42] [--soft-delete]

bench.py's INCR measurement uses it between a FULL run and an INCR run. The delta is
``pct`` percent of ``records`` rows, spread over the four source tables in proportion to
their sizes (updates, deletes) or to a fixed mix (inserts):

* updates of existing rows (~49%), one of
  - ``email_to_other``: the email becomes another record's (non-blank) email, so the
    row joins that person's cluster and may split its old one;
  - ``phone_to_other``: the phone (crm/orders) or loyalty number (loyalty) becomes
    another record's, likewise; a web signup has neither and changes its email instead;
  - ``email_new``: a brand-new address nobody has: the row leaves its cluster if the
    email was what linked it;
  - ``no_id_change``: only ``updated_at`` moves (a name or address edit, say);
* inserts of new rows with new keys (~49%), one of
  - ``join``: the identifiers of one existing record (same person: joins its cluster);
  - ``bridge``: the email of one existing record and the phone / loyalty number of
    another, so two clusters merge (a web signup has only an email: counted as join);
  - ``fresh``: identifiers nobody has (a new person);
* soft deletes (~2%, only with ``soft_delete``): ``is_deleted = TRUE`` on existing rows.

Every changed or inserted row gets an ``updated_at`` after the newest existing one, so an
INCR run's watermark filter picks up exactly the delta. Rows are chosen by
``hash(..., seed)``: the same delta for the same data and seed, whatever the threads.
No per-row Python: a handful of set-based statements.
"""

from __future__ import annotations

import argparse
import sys
import time

import duckdb

# (code, table, key column, key type, email column, phone column, loyalty column)
TABLES = [
    (0, "crm_customers", "customer_id", "BIGINT", "email", "phone", None),
    (1, "orders", "order_id", "VARCHAR", "customer_email", "phone", None),
    (2, "loyalty_members", "member_id", "VARCHAR", "email", None, "loyalty_id"),
    (3, "web_signups", "signup_id", "BIGINT", "email", None, None),
]
# Inserts per table (percent): new orders dominate, as in the generated data.
INSERT_MIX = [(0, 25), (1, 45), (2, 12), (3, 18)]
NEW_KEY_BASE = 10_000_000_000  # generated numeric keys are < 10^10

UPDATE_KINDS = ("email_to_other", "phone_to_other", "email_new", "no_id_change")
INSERT_KINDS = ("join", "bridge", "fresh")


def add_soft_delete_column(con) -> None:
    """`is_deleted BOOLEAN DEFAULT FALSE` on every source table (the generator makes none)."""
    for _, table, *_ in TABLES:
        con.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS is_deleted BOOLEAN DEFAULT FALSE")


def plan_sizes(records: int, pct: float, soft_delete: bool) -> dict[str, int]:
    total = max(int(round(records * pct / 100)), 0)
    deletes = int(round(total * 0.02)) if soft_delete else 0
    updates = (total - deletes) // 2
    return {"total": total, "updates": updates, "inserts": total - deletes - updates, "deletes": deletes}


def _all_rows_sql() -> str:
    parts = []
    for code, table, key, _, email, phone, loyalty in TABLES:
        parts.append(f"SELECT {code} AS s, CAST({key} AS VARCHAR) AS k, {email} AS email, "
                     f"{phone or 'NULL::VARCHAR'} AS phone, {loyalty or 'NULL::VARCHAR'} AS loyalty_id "
                     f"FROM {table}")
    return " UNION ALL ".join(parts)


def apply_delta(con, records: int, pct: float = 1.0, seed: int = 42, soft_delete: bool = False) -> dict:
    """Change the sources in place (the caller commits or not); returns counts by kind.

    With soft_delete the tables must have `is_deleted` (add_soft_delete_column)."""
    sizes = plan_sizes(records, pct, soft_delete)
    n_upd, n_ins, n_del = sizes["updates"], sizes["inserts"], sizes["deletes"]
    t0 = time.perf_counter()
    q = con.execute
    q(f"CREATE OR REPLACE TEMP VIEW d_rows AS {_all_rows_sql()}")
    # Newest timestamp anywhere: every delta row is later, a few seconds to a day apart.
    q("CREATE OR REPLACE TEMP TABLE d_ts AS SELECT max(m) AS ts FROM ("
      + " UNION ALL ".join(f"SELECT max(updated_at) AS m FROM {t}" for _, t, *_ in TABLES) + ")")

    def ts(i: str) -> str:
        return f"(SELECT ts FROM d_ts) + INTERVAL 1 HOUR + to_seconds((hash({i}, 'ts', {seed}) % 86400)::BIGINT)"

    # Rows to update (first n_upd) or delete (the rest): a hash sample over all tables.
    q(f"CREATE OR REPLACE TEMP TABLE d_target AS SELECT s, k, row_number() OVER (ORDER BY h, s, k) AS i "
      f"FROM (SELECT s, k, hash(s, k, 'target', {seed}) AS h FROM d_rows ORDER BY h, s, k LIMIT {n_upd + n_del})")
    # Donor values: other records' non-blank emails, phones, loyalty numbers, and whole rows.
    n_donor = max(n_upd, n_ins, 1)
    for name, col in (("email", "email"), ("phone", "phone"), ("loyalty", "loyalty_id")):
        q(f"CREATE OR REPLACE TEMP TABLE d_{name}_donor AS SELECT v, row_number() OVER (ORDER BY h, v) AS i FROM ("
          f"SELECT {col} AS v, hash(s, k, '{name}', {seed}) AS h FROM d_rows WHERE trim({col}) <> '' "
          f"ORDER BY h, v LIMIT {n_donor})")
    q(f"CREATE OR REPLACE TEMP TABLE d_row_donor AS SELECT email, phone, loyalty_id, "
      f"row_number() OVER (ORDER BY h, s, k) AS i FROM (SELECT *, hash(s, k, 'row', {seed}) AS h FROM d_rows "
      f"WHERE trim(email) <> '' ORDER BY h, s, k LIMIT {n_donor})")
    n_email = q("SELECT count(*) FROM d_email_donor").fetchall()[0][0] or 1
    n_phone = q("SELECT count(*) FROM d_phone_donor").fetchall()[0][0] or 1
    n_loyal = q("SELECT count(*) FROM d_loyalty_donor").fetchall()[0][0] or 1
    n_rows = q("SELECT count(*) FROM d_row_donor").fetchall()[0][0] or 1

    # Updates: the kind decides which column changes and to what.
    q(f"""
CREATE OR REPLACE TEMP TABLE d_update AS
WITH t AS (
  SELECT s, k, i, hash(i, 'kind', {seed}) % 100 AS u FROM d_target WHERE i <= {n_upd}
), kinded AS (
  SELECT *, CASE WHEN u < 35 THEN 'email_to_other'
                 WHEN u < 55 THEN CASE WHEN s = 3 THEN 'email_to_other' ELSE 'phone_to_other' END
                 WHEN u < 75 THEN 'email_new' ELSE 'no_id_change' END AS kind
  FROM t
)
SELECT kinded.s, kinded.k, kinded.kind, {ts('kinded.i')} AS ts,
  CASE kind WHEN 'email_to_other' THEN e.v
            WHEN 'email_new' THEN concat('delta.', {seed}, '.', kinded.i, '@new-mail.example') END AS new_email,
  CASE WHEN kind = 'phone_to_other' AND s IN (0, 1) THEN p.v END AS new_phone,
  CASE WHEN kind = 'phone_to_other' AND s = 2 THEN l.v END AS new_loyalty
FROM kinded
LEFT JOIN d_email_donor e ON e.i = 1 + (kinded.i - 1) % {n_email}
LEFT JOIN d_phone_donor p ON p.i = 1 + (kinded.i - 1) % {n_phone}
LEFT JOIN d_loyalty_donor l ON l.i = 1 + (kinded.i - 1) % {n_loyal}
""")
    for code, table, key, ktype, email, phone, loyalty in TABLES:
        sets = [f"{email} = coalesce(d.new_email, t.{email})", "updated_at = d.ts"]
        if phone:
            sets.append(f"{phone} = coalesce(d.new_phone, t.{phone})")
        if loyalty:
            sets.append(f"{loyalty} = coalesce(d.new_loyalty, t.{loyalty})")
        q(f"UPDATE {table} AS t SET {', '.join(sets)} FROM d_update d "
          f"WHERE d.s = {code} AND t.{key} = CAST(d.k AS {ktype})")

    # Soft deletes.
    if n_del:
        for code, table, key, ktype, *_ in TABLES:
            q(f"UPDATE {table} AS t SET is_deleted = TRUE, updated_at = {ts('d.i')} "
              f"FROM d_target d WHERE d.i > {n_upd} AND d.s = {code} AND t.{key} = CAST(d.k AS {ktype})")

    # Inserts: table and kind by hash; new keys outside the generated key space.
    bounds, acc = [], 0
    for code, share in INSERT_MIX:
        acc += share
        bounds.append(f"WHEN hash(i, 'table', {seed}) % 100 < {acc} THEN {code}")
    q(f"""
CREATE OR REPLACE TEMP TABLE d_insert AS
WITH n AS (
  SELECT range + 1 AS i FROM range({n_ins})
), t AS (
  SELECT i, CASE {' '.join(bounds)} ELSE 1 END AS s, hash(i, 'ikind', {seed}) % 100 AS u FROM n
), kinded AS (
  SELECT *, CASE WHEN u < 50 THEN 'join' WHEN u < 75 THEN CASE WHEN s = 3 THEN 'join' ELSE 'bridge' END
                 ELSE 'fresh' END AS kind FROM t
)
SELECT kinded.s, kinded.i, kinded.kind, {ts('kinded.i + ' + str(n_upd + n_del))} AS ts,
  CASE kind WHEN 'fresh' THEN concat('fresh.', {seed}, '.', kinded.i, '@new-mail.example') ELSE r.email END AS email,
  CASE kind WHEN 'join' THEN r.phone WHEN 'bridge' THEN p.v END AS phone,
  CASE kind WHEN 'join' THEN r.loyalty_id WHEN 'bridge' THEN l.v
            ELSE concat('LZ', lpad(kinded.i::VARCHAR, 9, '0')) END AS loyalty_id
FROM kinded
LEFT JOIN d_row_donor r ON r.i = 1 + (kinded.i - 1) % {n_rows}
LEFT JOIN d_phone_donor p ON p.i = 1 + (kinded.i * 7 - 1) % {n_phone}
LEFT JOIN d_loyalty_donor l ON l.i = 1 + (kinded.i * 7 - 1) % {n_loyal}
""")
    new_keys = {
        0: f"{NEW_KEY_BASE} + i",
        1: "concat('ORD-N', lpad(i::VARCHAR, 9, '0'))",
        2: "concat('MN', lpad(i::VARCHAR, 9, '0'))",
        3: f"{NEW_KEY_BASE} + i",
    }
    for code, table, key, _, email, phone, loyalty in TABLES:
        cols = [key, email, "updated_at"] + ([phone] if phone else []) + ([loyalty] if loyalty else [])
        vals = [new_keys[code], "email", "ts"] + (["phone"] if phone else []) + (["loyalty_id"] if loyalty else [])
        q(f"INSERT INTO {table} ({', '.join(cols)}) SELECT {', '.join(vals)} FROM d_insert WHERE s = {code}")

    by_kind = dict(q("SELECT 'update:' || kind, count(*) FROM d_update GROUP BY ALL UNION ALL "
                     "SELECT 'insert:' || kind, count(*) FROM d_insert GROUP BY ALL").fetchall())
    by_table = {}
    for code, table, *_ in TABLES:
        by_table[table] = dict(zip(("updates", "inserts", "deletes"), q(
            f"SELECT (SELECT count(*) FROM d_update WHERE s = {code}), "
            f"(SELECT count(*) FROM d_insert WHERE s = {code}), "
            f"(SELECT count(*) FROM d_target WHERE s = {code} AND i > {n_upd})").fetchall()[0]))
    if n_del:
        by_kind["delete:soft"] = n_del
    new_max = q("SELECT max(ts) FROM (SELECT ts FROM d_update UNION ALL SELECT ts FROM d_insert)").fetchall()[0][0]
    old_max = q("SELECT ts FROM d_ts").fetchall()[0][0]
    for t in ("d_update", "d_insert", "d_target", "d_email_donor", "d_phone_donor", "d_loyalty_donor",
              "d_row_donor", "d_ts"):
        q(f"DROP TABLE IF EXISTS {t}")
    q("DROP VIEW IF EXISTS d_rows")
    return {
        "pct": pct, "seed": seed, **sizes,
        "by_kind": dict(sorted(by_kind.items())), "by_table": by_table,
        "previous_max_updated_at": old_max.isoformat() if old_max else None,
        "delta_max_updated_at": new_max.isoformat() if new_max else None,
        "seconds": time.perf_counter() - t0,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("db")
    ap.add_argument("--records", type=int, required=True, help="size the delta is a percentage of")
    ap.add_argument("--pct", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--soft-delete", action="store_true",
                    help="add is_deleted to the tables (if missing) and soft-delete ~2%% of the delta")
    args = ap.parse_args(argv)
    con = duckdb.connect(args.db)
    try:
        if args.soft_delete:
            add_soft_delete_column(con)
        print(apply_delta(con, args.records, args.pct, args.seed, args.soft_delete))
    finally:
        con.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
