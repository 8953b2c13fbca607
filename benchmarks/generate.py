"""Seeded synthetic identity data with ground truth, for benchmarking idr.

    python benchmarks/generate.py --records 1000000 --db bench_1m.duckdb --seed 42

writes a fresh DuckDB file holding four source tables, a truth table and a small
metadata table, plus an idr YAML config next to it (``bench_1m.yaml``).

Every random decision is ``hash(row_number, salt, seed)``: set-based SQL, no per-row
Python, and the same tables whatever the thread count or schedule.  DuckDB's ``hash``
is only guaranteed stable within one DuckDB version (recorded in ``bench_meta``);
``--fingerprint`` prints per-table hashes to compare two generations.

The model, per true person (``person_id``):

* 1-9 records (mean ~2.5) spread over ``crm_customers``, ``orders``,
  ``loyalty_members`` and ``web_signups``; the first record is a CRM/web/loyalty
  registration, later ones are mostly orders.
* a primary email (unique: ``first.last<pid>@gmail.com`` and similar), 15% a second
  (work) email; a primary phone, 12% a second one; a loyalty number.
* per record: identifiers missing (NULL, '' or blanks), email case/whitespace variants,
  phones in seven US formats, loyalty ids in mixed case with blanks.
* junk shared by unrelated persons: ``test@test.com`` (excluded by the config), ``N/A``,
  ``unknown``, ``none``, ``0000000000``...; a shop's phone typed into ~3% of orders
  (its group exceeds the phone rule's ``max_group_size`` from ~200k records upward).
* 3% of person pairs are households: the second person sometimes gives the first one's
  phone, so a deterministic linker merges two true persons (honest false positives).
* 5% of web signups use a throwaway address, and records with every identifier missing
  can't be linked: honest false negatives.
* a few long chains (``person_id`` 0..3, ~300/100/30/10 records at 1M, growing with
  sqrt(records)): record k shares an email with record k+1 or k-1 and a phone with the
  other neighbour, so the chain is one component only through all of its links.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import duckdb

GENERATOR_VERSION = 2

AREA_CODES = ["212", "305", "312", "415", "617", "646", "702", "713", "206", "303"]
# Exchanges: first digit 2-9, middle digit not 1 or 5 (so no N11 service codes and no
# 555; 555 is kept for the shop phone, so no person can collide with it), any last digit.
EXCHANGE_MIDDLE = "02346789"
N_EXCHANGES = 8 * len(EXCHANGE_MIDDLE) * 10
PHONE_SPACE = len(AREA_CODES) * N_EXCHANGES * 10_000  # 64M distinct numbers
PHONE_MULT = 1_000_003  # prime, coprime with PHONE_SPACE: the scramble is a bijection
SHOP_PHONE = "7025554000"

KEY_SPACE = 10_000_000_000
KEY_MULT = 7_919_990_003  # odd, not a multiple of 5: bijection on [0, 10^10)
LOYALTY_SPACE = 1_000_000_000
LOYALTY_MULT = 387_420_489  # 3^18, coprime with 10^9

FIRST_NAMES = """james mary john patricia robert jennifer michael linda william elizabeth
david barbara richard susan joseph jessica thomas sarah charles karen christopher lisa
daniel nancy matthew betty anthony margaret mark sandra donald ashley steven kimberly paul
emily andrew donna joshua michelle kenneth carol kevin amanda brian dorothy george melissa
timothy deborah ronald stephanie edward rebecca jason sharon jeffrey laura ryan cynthia
jacob kathleen gary amy nicholas angela eric shirley jonathan anna stephen brenda larry
pamela justin emma scott nicole brandon helen benjamin samantha samuel katherine gregory
christine alexander debra frank rachel patrick carolyn raymond janet jack catherine dennis
maria jerry heather tyler diane aaron ruth jose julie adam olivia nathan joyce henry
virginia douglas victoria zachary kelly peter lauren kyle christina ethan joan walter
evelyn noah judith jeremy megan christian andrea keith cheryl roger hannah terry jacqueline
gerald martha harold gloria sean teresa austin ann carl sara arthur madison lawrence
frances dylan kathryn jesse janice jordan jean bryan abigail billy alice joe julia bruce
judy gabriel sophia logan grace albert denise willie amber alan doris juan marilyn wayne
danielle elijah beverly randy isabella roy theresa vincent diana ralph natalie eugene
brittany russell charlotte bobby marie mason kayla philip alexis louis lori""".split()

LAST_NAMES = """smith johnson williams brown jones garcia miller davis rodriguez martinez
hernandez lopez gonzalez wilson anderson thomas taylor moore jackson martin lee perez
thompson white harris sanchez clark ramirez lewis robinson walker young allen king wright
scott torres nguyen hill flores green adams nelson baker hall rivera campbell mitchell
carter roberts gomez phillips evans turner diaz parker cruz edwards collins reyes stewart
morris morales murphy cook rogers gutierrez ortiz morgan cooper peterson bailey reed kelly
howard ramos kim cox ward richardson watson brooks chavez wood james bennett gray mendoza
ruiz hughes price alvarez castillo sanders patel myers long ross foster jimenez powell
jenkins perry russell sullivan bell coleman butler henderson barnes gonzales fisher
vasquez simmons romero jordan patterson alexander hamilton graham reynolds griffin wallace
moreno west cole hayes bryant herrera gibson ellis tran medina aguilar stevens murray ford
castro marshall owens harrison fernandez mcdonald woods washington kennedy wells vargas
henry chen freeman webb tucker guzman burns crawford olson simpson porter hunter gordon
mendez silva shaw snyder mason dixon munoz hunt hicks holmes palmer wagner black robertson
boyd rose stone salazar fox warren mills meyer rice schmidt garza daniels ferguson nichols
stephens soto weaver ryan gardner payne grant dunn kelley spencer hawkins arnold pierce
vazquez hansen peters santos hart bradley knight elliott cunningham duncan armstrong
hudson carroll lane riley andrews alvarado ray delgado berry perkins hoffman johnston
matthews pena richards contreras willis carpenter lawrence sandoval""".split()

MAIL_DOMAINS = ["gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "icloud.com",
                "aol.com", "comcast.net", "protonmail.com", "att.net", "msn.com"]
WORK_DOMAINS = ["acme-corp.com", "globex.com", "initech.com", "umbrella-inc.com",
                "stark-industries.com", "wayne-enterprises.com", "hooli.com",
                "vandelay.com", "cyberdyne.com", "soylent.com"]
JUNK_EMAILS = ["test@test.com", "test@test.com", "N/A", "unknown", "none"]
JUNK_PHONES = ["0000000000", "9999999999", "1234567890", "N/A", "unknown"]
JUNK_LOYALTY = ["N/A", "UNKNOWN", "0"]

FIRST_TITLE = [n.capitalize() for n in FIRST_NAMES]
LAST_TITLE = [n.capitalize() for n in LAST_NAMES]
MAIL_TITLE = [d.capitalize() for d in MAIL_DOMAINS]
WORK_TITLE = [d.capitalize() for d in WORK_DOMAINS]

# (table_id, table, key column, key SQL over key_num, identifier columns); the position
# in this list is the source code `s` used while generating
SOURCES = [
    ("crm", "crm_customers", "customer_id", "key_num",
     [("EMAIL", "email"), ("PHONE", "phone")]),
    ("orders", "orders", "order_id", "concat('ORD-', lpad(key_num::VARCHAR, 10, '0'))",
     [("EMAIL", "customer_email"), ("PHONE", "phone")]),
    ("loyalty", "loyalty_members", "member_id", "concat('M', lpad(key_num::VARCHAR, 10, '0'))",
     [("LOYALTY_ID", "loyalty_id"), ("EMAIL", "email")]),
    ("web", "web_signups", "signup_id", "key_num", [("EMAIL", "email")]),
]
CRM, ORDERS, LOYALTY, WEB = range(4)

MEAN_RECORDS_PER_PERSON = 2.47


def sql_list(values: list[str]) -> str:
    """A DuckDB list literal of our own constants (no user input reaches this)."""
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def pick(values: list[str], x: str, salt: int, seed: int) -> str:
    """SQL: one of ``values``, chosen by hash(x, salt, seed)."""
    return f"{sql_list(values)}[1 + (hash({x}, {salt}, {seed}) % {len(values)})::BIGINT]"


def phone_formats(digits: str) -> list[str]:
    """The seven ways fmt_phone() writes a number, in Python (used for the shop phone)."""
    a, e, l = digits[:3], digits[3:6], digits[6:]
    return [f"({a}) {e}-{l}", f"{a}.{e}.{l}", f"+1 {a} {e} {l}", f"{a}{e}{l}",
            f"{a}-{e}-{l}", f"1-{a}-{e}-{l}", f"+1{a}{e}{l}"]


def chain_lengths(records: int) -> list[int]:
    """A few long chains, ~sqrt(records) long: their pairs stay ~2.5% of all true pairs
    at every size (so quality is comparable across sizes) while 10M records still get a
    ~950-link chain."""
    scale = math.sqrt(records / 1_000_000)
    lengths = (min(round(k * scale), records // 50) for k in (300, 100, 30, 10))
    return [n for n in lengths if n >= 3]


def _macros(seed: int) -> list[str]:
    """Temporary macros: deterministic uniforms and the identifier builders.

    Speed notes (10M rows on 2 cores): list literals stay out of macros (a list inside a
    macro is rebuilt per row), phones are BIGINT arithmetic until the final concat(),
    and concat() beats chains of || (one allocation instead of one per piece).
    """
    n_area = len(AREA_CODES)
    return [
        # uniform in [0, 1) from (row, salt, seed)
        f"CREATE OR REPLACE TEMP MACRO u(x, salt) AS "
        f"(hash(x, salt, {seed}) % 1000000007)::DOUBLE / 1000000007",
        # phone slot (an int < PHONE_SPACE) -> scrambled value v, bijectively
        f"CREATE OR REPLACE TEMP MACRO phone_v(slot) AS "
        f"(slot * {PHONE_MULT} + {seed % PHONE_SPACE}) % {PHONE_SPACE}",
        # v -> area code, exchange (middle digit skips 1 and 5), line
        f"CREATE OR REPLACE TEMP MACRO ph_area(v) AS "
        f"substr('{''.join(AREA_CODES)}', 1 + 3 * (v % {n_area})::BIGINT, 3)",
        "CREATE OR REPLACE TEMP MACRO mid_digit(m) AS m + (m > 0)::INT + (m > 3)::INT",
        f"CREATE OR REPLACE TEMP MACRO ph_exch(v) AS "
        f"((2 + (v // {n_area}) % {N_EXCHANGES} // 80) * 100 "
        f"+ mid_digit((v // {n_area * 10}) % 8) * 10 + (v // {n_area}) % 10)::VARCHAR",
        f"CREATE OR REPLACE TEMP MACRO ph_line(v) AS "
        f"lpad((v // {n_area * N_EXCHANGES})::VARCHAR, 4, '0')",
        # the formats people and forms produce (same order as phone_formats())
        "CREATE OR REPLACE TEMP MACRO fmt_phone(v, k) AS CASE k "
        "  WHEN 0 THEN concat('(', ph_area(v), ') ', ph_exch(v), '-', ph_line(v)) "
        "  WHEN 1 THEN concat(ph_area(v), '.', ph_exch(v), '.', ph_line(v)) "
        "  WHEN 2 THEN concat('+1 ', ph_area(v), ' ', ph_exch(v), ' ', ph_line(v)) "
        "  WHEN 3 THEN concat(ph_area(v), ph_exch(v), ph_line(v)) "
        "  WHEN 4 THEN concat(ph_area(v), '-', ph_exch(v), '-', ph_line(v)) "
        "  WHEN 5 THEN concat('1-', ph_area(v), '-', ph_exch(v), '-', ph_line(v)) "
        "  ELSE concat('+1', ph_area(v), ph_exch(v), ph_line(v)) END",
        # an address as typed: v < .62 as is, title-cased ones arrive already built,
        # upper case, padded with blanks or a tab
        "CREATE OR REPLACE TEMP MACRO is_titled(v) AS "
        "(v >= 0.62 AND v < 0.77) OR (v >= 0.87 AND v < 0.95)",
        "CREATE OR REPLACE TEMP MACRO fmt_email(e, v) AS CASE "
        "  WHEN v < 0.77 THEN e WHEN v < 0.87 THEN upper(e) "
        "  WHEN v < 0.95 THEN concat('  ', e, ' ') ELSE concat(' ', e, '\t') END",
        "CREATE OR REPLACE TEMP MACRO missing(v) AS CASE "
        "  WHEN v < 0.6 THEN NULL WHEN v < 0.85 THEN '' ELSE '   ' END",
        f"CREATE OR REPLACE TEMP MACRO loyalty_number(pid) AS concat('LY', "
        f"lpad(((pid * {LOYALTY_MULT} + {seed % LOYALTY_SPACE}) % {LOYALTY_SPACE})::VARCHAR,"
        f" 9, '0'))",
    ]


def _persons_sql(records: int, seed: int, n_gen: int, chains: list[int]) -> str:
    """Persons and where their records start; everything else derives from pid."""
    n_chain = len(chains)
    chain_lit = "[" + ", ".join(str(c) for c in chains) + "]" if chains else "[0]"
    return f"""
CREATE OR REPLACE TEMP TABLE persons AS
WITH counts AS (
  SELECT range AS pid,
    CASE WHEN range < {n_chain} THEN {chain_lit}[range + 1]
         ELSE CASE WHEN u(range, 1) < 0.36 THEN 1 WHEN u(range, 1) < 0.63 THEN 2
                   WHEN u(range, 1) < 0.80 THEN 3 WHEN u(range, 1) < 0.89 THEN 4
                   WHEN u(range, 1) < 0.94 THEN 5
                   ELSE 6 + (hash(range, 2, {seed}) % 4)::BIGINT END
    END::BIGINT AS cnt
  FROM range({n_gen})
), placed AS (
  SELECT pid, cnt,
    (sum(cnt) OVER (ORDER BY pid ROWS UNBOUNDED PRECEDING))::BIGINT - cnt AS start
  FROM counts
)
SELECT pid, cnt, start FROM placed WHERE start < {records}
"""


def _records_sql(records: int, seed: int, n_gen: int, n_chain: int) -> str:
    shop_p = 0.031 if records >= 200_000 else 0.0
    return f"""
CREATE OR REPLACE TEMP TABLE recs AS
WITH r0 AS (
  SELECT pid, start, unnest(range(cnt)) AS j FROM persons
), r1 AS (
  SELECT pid, start, j, start + j AS r, pid < {n_chain} AS is_chain
  FROM r0 WHERE start + j < {records}
), r2 AS (
  SELECT *,
    -- source: the first record is a registration, later ones mostly orders
    CASE WHEN is_chain THEN CASE WHEN u(r, 20) < 0.5 THEN {CRM} ELSE {ORDERS} END
         WHEN j = 0 THEN CASE WHEN u(r, 20) < 0.55 THEN {CRM}
                              WHEN u(r, 20) < 0.85 THEN {WEB} ELSE {LOYALTY} END
         ELSE CASE WHEN u(r, 20) < 0.65 THEN {ORDERS} WHEN u(r, 20) < 0.75 THEN {CRM}
                   WHEN u(r, 20) < 0.88 THEN {WEB} ELSE {LOYALTY} END
    END AS s,
    -- person attributes are pure functions of pid: recomputing them per record is
    -- cheaper than carrying strings through the unnest
    1 + (hash(pid, 10, {seed}) % {len(FIRST_NAMES)})::BIGINT AS fi,
    1 + (hash(pid, 11, {seed}) % {len(LAST_NAMES)})::BIGINT AS li,
    1 + (hash(pid, 12, {seed}) % {len(MAIL_DOMAINS)})::BIGINT AS di,
    1 + (hash(pid, 13, {seed}) % {len(WORK_DOMAINS)})::BIGINT AS wi,
    (hash(pid, 14, {seed}) % 4)::INT AS efmt,
    NOT is_chain AND u(pid, 15) < 0.15 AS has_e2,
    NOT is_chain AND u(pid, 16) < 0.12 AS has_ph2,
    -- households: the odd member of a pair sometimes gives the even member's phone
    pid % 2 = 1 AND pid > {n_chain} AND u(pid // 2, 17) < 0.03 AS in_household,
    u(r, 23) AS u_case
  FROM r1
), r3 AS (
  SELECT *,
    CASE WHEN is_chain THEN 'chain'
         WHEN s = {WEB} AND u(r, 21) < 0.05 THEN 'throwaway'
         WHEN has_e2 AND u(r, 22) < 0.35 THEN 'e2'
         ELSE 'e1' END AS ekind,
    CASE WHEN is_titled(u_case) THEN {sql_list(FIRST_TITLE)}[fi]
         ELSE {sql_list(FIRST_NAMES)}[fi] END AS fn,
    CASE WHEN is_titled(u_case) THEN {sql_list(LAST_TITLE)}[li]
         ELSE {sql_list(LAST_NAMES)}[li] END AS ln,
    CASE WHEN is_titled(u_case) THEN {sql_list(MAIL_TITLE)}[di]
         ELSE {sql_list(MAIL_DOMAINS)}[di] END AS dom,
    CASE s WHEN {CRM} THEN 0.92 WHEN {ORDERS} THEN 0.97 WHEN {LOYALTY} THEN 0.75 ELSE 0.99 END
      AS p_email,
    CASE s WHEN {CRM} THEN 0.85 WHEN {ORDERS} THEN 0.55 ELSE 0.0 END AS p_phone,
    -- phone slots: pid (primary), n_gen + pid (second), 2 n_gen + ... (chain links)
    phone_v(CASE WHEN is_chain THEN CASE WHEN j > 0 THEN 2 * {n_gen} + start + j - 1 + j % 2 END
                 WHEN has_ph2 AND u(r, 30) < 0.3 THEN {n_gen} + pid
                 WHEN in_household AND u(r, 30) >= 0.5 THEN pid - 1
                 ELSE pid END) AS ph_v,
    (hash(r, 31, {seed}) % 7)::INT AS ph_fmt
  FROM r2
), r4 AS (
  SELECT *,
    CASE ekind
      WHEN 'e1' THEN CASE efmt
        WHEN 0 THEN concat(fn, '.', ln, pid, '@', dom)
        WHEN 1 THEN concat(fn[1], ln, pid, '@', dom)
        WHEN 2 THEN concat(fn, '_', ln, pid, '@', dom)
        ELSE concat(ln, '.', fn, pid, '@', dom) END
      WHEN 'e2' THEN concat(fn, '.', ln, pid, '@',
        CASE WHEN is_titled(u_case) THEN {sql_list(WORK_TITLE)}[wi]
             ELSE {sql_list(WORK_DOMAINS)}[wi] END)
      WHEN 'chain' THEN concat(fn, ln, '.', pid, '.', j - j % 2, '@', dom)
      ELSE concat(fn, '.tmp', r, '@',
        CASE WHEN is_titled(u_case) THEN 'Mailinator.com' ELSE 'mailinator.com' END)
    END AS email_core
  FROM r3
)
SELECT r, pid, s,
  (r * {KEY_MULT} + {seed % KEY_SPACE}) % {KEY_SPACE} AS key_num,
  CASE WHEN is_chain THEN fmt_email(email_core, u_case)
       WHEN u(r, 24) >= p_email THEN missing(u(r, 25))
       WHEN u(r, 26) < 0.004 THEN {pick(JUNK_EMAILS, 'r', 27, seed)}
       ELSE fmt_email(email_core, u_case) END AS email,
  CASE WHEN p_phone = 0 OR ph_v IS NULL THEN NULL
       WHEN is_chain THEN fmt_phone(ph_v, ph_fmt)
       WHEN u(r, 32) >= p_phone THEN missing(u(r, 33))
       WHEN u(r, 34) < 0.003 THEN {pick(JUNK_PHONES, 'r', 35, seed)}
       WHEN s = {ORDERS} AND u(r, 36) < {shop_p} THEN {sql_list(phone_formats(SHOP_PHONE))}[ph_fmt + 1]
       ELSE fmt_phone(ph_v, ph_fmt) END AS phone,
  CASE WHEN s <> {LOYALTY} THEN NULL
       WHEN u(r, 40) >= 0.97 THEN missing(u(r, 41))
       WHEN u(r, 42) < 0.003 THEN {pick(JUNK_LOYALTY, 'r', 43, seed)}
       WHEN u(r, 44) < 0.70 THEN loyalty_number(pid)
       WHEN u(r, 44) < 0.85 THEN lower(loyalty_number(pid))
       ELSE concat(' ', loyalty_number(pid), '  ') END AS loyalty_id,
  TIMESTAMP '2020-01-01' + to_seconds((hash(r, 50, {seed}) % 157680000)::BIGINT) AS updated_at
FROM r4
"""


def _source_tables_sql() -> list[str]:
    cols = {
        "crm": "email, phone",
        "orders": "email AS customer_email, phone",
        "loyalty": "loyalty_id, email",
        "web": "email",
    }
    stmts = []
    for code, (table_id, table, key_col, key_sql, _) in enumerate(SOURCES):
        # ORDER BY the scrambled key: rows are not stored person by person
        stmts.append(f"CREATE TABLE {table} AS SELECT {key_sql} AS {key_col}, {cols[table_id]}, "
                     f"updated_at FROM recs WHERE s = {code} ORDER BY key_num")
    entity_key = "CASE s " + " ".join(
        f"WHEN {code} THEN concat('{table_id}:', {key_sql})"
        for code, (table_id, _, _, key_sql, _) in enumerate(SOURCES)) + " END"
    # no ORDER BY: recs is in a deterministic order already (insertion order is kept)
    stmts.append(f"CREATE TABLE bench_truth AS SELECT ({entity_key})::VARCHAR AS entity_key, "
                 f"pid::BIGINT AS person_id FROM recs")
    return stmts


def config_yaml() -> str:
    lines = ["# idr config written by benchmarks/generate.py", "sources:"]
    for table_id, table, key_col, _, idents in SOURCES:
        lines += [
            f"  - table_id: {table_id}",
            f"    table_fqn: {table}",
            f"    entity_key_expr: {key_col}",
            "    watermark_column: updated_at",
            "    watermark_lookback_minutes: 0",
            "    is_active: true",
            "    identifiers:",
        ]
        lines += [f"      - {{identifier_type: {t}, identifier_value_expr: {c}}}" for t, c in idents]
    lines += [
        "rules:",
        "  - {rule_id: email, identifier_type: EMAIL, canonicalize: EMAIL, max_group_size: 10000, is_active: true, priority: 1}",
        "  - {rule_id: phone, identifier_type: PHONE, canonicalize: PHONE, max_group_size: 5000, is_active: true, priority: 2}",
        "  - {rule_id: loyalty, identifier_type: LOYALTY_ID, canonicalize: UPPERCASE, max_group_size: 100, is_active: true, priority: 3}",
        "exclusions:",
        "  - {identifier_type: EMAIL, identifier_value_pattern: test@test.com, is_pattern: false, reason: Generic test address}",
        "config:",
        '  large_cluster_threshold: "5000"',
        "",
    ]
    return "\n".join(lines)


def fingerprints(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Per-table fingerprint: row count, order-free hash sum, order-sensitive hash sum."""
    out = {}
    for table in [s[1] for s in SOURCES] + ["bench_truth"]:
        n, s, o = con.execute(
            f"SELECT count(*), sum(hash(t)::HUGEINT), "
            f"sum((hash(t) % 1000003)::HUGEINT * (rowid + 1)) FROM {table} t").fetchall()[0]
        out[table] = f"{n}:{s}:{o}"
    return out


def generate(records: int, db: str | os.PathLike, seed: int = 42,
             threads: int | None = None, verbose: bool = True) -> dict:
    """Create a fresh ``db`` with sources + truth, and the YAML config next to it."""
    if records < 1:
        raise ValueError("--records must be positive")
    db = Path(db)
    for p in (db, Path(str(db) + ".wal")):
        p.unlink(missing_ok=True)
    db.parent.mkdir(parents=True, exist_ok=True)
    chains = chain_lengths(records)
    # persons generated up front; the tail beyond `records` is cut. count >= 1 per
    # person, so `records` persons always suffice (the fallback for tiny sizes).
    n_gen = min(records, int(records / MEAN_RECORDS_PER_PERSON * 1.15) + 1000)
    if 2 * n_gen + sum(chains) >= PHONE_SPACE:
        raise ValueError(f"--records too large for the phone space ({PHONE_SPACE})")
    timings = {}
    t0 = time.perf_counter()
    con = duckdb.connect(str(db))
    try:
        con.execute("SET enable_progress_bar = false")
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        for stmt in _macros(seed):
            con.execute(stmt)
        t = time.perf_counter()
        con.execute(_persons_sql(records, seed, n_gen, chains))
        total = con.execute("SELECT coalesce(sum(cnt), 0) FROM persons").fetchall()[0][0]
        if total < records:  # unlucky tiny size: fall back to one person per record
            n_gen = records
            con.execute(_persons_sql(records, seed, n_gen, chains))
        timings["persons"] = time.perf_counter() - t
        t = time.perf_counter()
        con.execute(_records_sql(records, seed, n_gen, len(chains)))
        timings["records"] = time.perf_counter() - t
        t = time.perf_counter()
        for stmt in _source_tables_sql():
            con.execute(stmt)
        timings["tables"] = time.perf_counter() - t
        n_persons = con.execute("SELECT count(DISTINCT person_id) FROM bench_truth").fetchall()[0][0]
        counts = {s[1]: con.execute(f"SELECT count(*) FROM {s[1]}").fetchall()[0][0] for s in SOURCES}
        meta = {
            "generator_version": GENERATOR_VERSION,
            "records": records,
            "seed": seed,
            "persons": n_persons,
            "chains": ",".join(map(str, chains)),
            "duckdb_version": duckdb.__version__,
            **{f"rows_{k}": v for k, v in counts.items()},
        }
        con.execute("CREATE TABLE bench_meta (key VARCHAR, value VARCHAR)")
        con.executemany("INSERT INTO bench_meta VALUES (?, ?)",
                        [(k, str(v)) for k, v in meta.items()])
        con.execute("DROP TABLE recs")
        con.execute("DROP TABLE persons")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    timings["total"] = time.perf_counter() - t0
    assert sum(counts.values()) == records, (counts, records)
    yaml_path = db.with_suffix(".yaml")
    yaml_path.write_text(config_yaml())
    result = {**meta, "db": str(db), "config": str(yaml_path),
              "db_bytes": db.stat().st_size, "seconds": timings}
    if verbose:
        print(f"generated {records:,} records ({n_persons:,} persons) into {db} "
              f"in {timings['total']:.1f}s; config {yaml_path}")
        print("  " + ", ".join(f"{k}={v:,}" for k, v in counts.items())
              + f"; file {result['db_bytes'] / 2**20:.1f} MiB")
        print("  seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in timings.items()))
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, required=True, help="total records over all sources")
    ap.add_argument("--db", required=True, help="DuckDB file to create (replaced if it exists)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=None, help="DuckDB threads (default: all)")
    ap.add_argument("--fingerprint", action="store_true",
                    help="print per-table fingerprints afterwards (for determinism checks)")
    args = ap.parse_args(argv)
    generate(args.records, args.db, args.seed, args.threads)
    if args.fingerprint:
        con = duckdb.connect(args.db, read_only=True)
        for table, fp in fingerprints(con).items():
            print(f"  {table}: {fp}")
        con.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
