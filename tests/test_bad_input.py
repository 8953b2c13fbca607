"""Bad input: one clear message naming what and where, exit code 2, nothing written."""

from __future__ import annotations

import duckdb
import pytest
import yaml

from idr_testing import idr_cli, make_db, query, simple_config

# Runs on every engine under test (conftest.ENGINES).
pytestmark = pytest.mark.usefixtures("engine")

ROWS = [{"id": 1, "email": "a@x.com", "phone": "415 555 2671"}, {"id": 2, "email": "A@x.com ", "phone": None}]


def snapshot(db) -> dict:
    """Full contents of every idr_meta and idr_out table."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = con.execute("SELECT table_schema, table_name FROM information_schema.tables "
                             "WHERE table_schema IN ('idr_meta', 'idr_out') ORDER BY 1, 2").fetchall()
        return {f"{s}.{t}": sorted(map(repr, con.execute(f'SELECT * FROM "{s}"."{t}"').fetchall()))
                for s, t in tables}
    finally:
        con.close()


@pytest.fixture
def good_db(tmp_path):
    db = make_db(tmp_path / "idr.duckdb", {"people": ROWS}, simple_config(types={"email": "EMAIL"}))
    assert idr_cli("run", "--db", str(db)).returncode == 0
    return db


def write_yaml(tmp_path, cfg) -> str:
    p = tmp_path / "cfg.yaml"
    p.write_text(yaml.safe_dump(cfg))
    return str(p)


def mutate(cfg, fn):
    fn(cfg)
    return cfg


BAD_CONFIGS = {
    "unknown canonicaliser": (lambda c: c["rules"][0].update(canonicalize="SOUNDEX"), ["SOUNDEX", "rule 'email'"]),
    "mapping without active rule": (
        lambda c: c["sources"][0]["identifiers"].append({"identifier_type": "SSN", "identifier_value_expr": "email"}),
        ["'SSN'", "no active rule"]),
    "missing source table": (lambda c: c["sources"][0].update(table_fqn="no_such_table"),
                             ["'no_such_table'", "cannot be read"]),
    "missing column": (lambda c: c["sources"][0]["identifiers"][0].update(identifier_value_expr="lower(mail)"),
                       ["unknown column 'mail'", "identifier_mapping ('src', 'EMAIL')"]),
    "statement instead of expression": (
        lambda c: c["sources"][0]["identifiers"][0].update(identifier_value_expr="email; DROP TABLE people"),
        ["must be one expression"]),
    "subquery": (lambda c: c["sources"][0].update(entity_key_expr="(SELECT max(id) FROM people)"),
                 ["not a statement or subquery", "entity_key_expr"]),
    "select statement": (lambda c: c["sources"][0].update(entity_key_expr="SELECT id FROM people"),
                         ["entity_key_expr"]),
    "zero max_group_size": (lambda c: c["rules"][0].update(max_group_size=0), ["max_group_size", "positive"]),
    "negative max_group_size": (lambda c: c["rules"][0].update(max_group_size=-5), ["max_group_size", "positive"]),
    "unknown phone region": (lambda c: (c["rules"][0].update(canonicalize="PHONE"),
                                        c.setdefault("config", {}).update(phone_default_region="XX")),
                             ["phone_default_region", "'XX'"]),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_config_load_refuses_bad_configuration(good_db, tmp_path, case):
    fn, expected = BAD_CONFIGS[case]
    before = snapshot(good_db)
    cfg = mutate(simple_config(types={"email": "EMAIL"}), fn)
    proc = idr_cli("config", "load", write_yaml(tmp_path, cfg), "--db", str(good_db))
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("idr: error:") == 1
    for fragment in expected:
        assert fragment in proc.stderr, (fragment, proc.stderr)
    assert snapshot(good_db) == before


def test_all_problems_reported_at_once(good_db, tmp_path):
    cfg = simple_config(types={"email": "EMAIL"})
    cfg["rules"][0].update(canonicalize="NOPE", max_group_size=0)
    cfg["sources"][0]["entity_key_expr"] = "missing_col"
    proc = idr_cli("config", "load", write_yaml(tmp_path, cfg), "--db", str(good_db))
    assert proc.returncode == 2
    assert "3 problems" in proc.stderr and "NOPE" in proc.stderr and "missing_col" in proc.stderr


@pytest.mark.parametrize("sql, expected", [
    ("UPDATE idr_meta.rule SET canonicalize = 'FOO'", "unknown canonicalize 'FOO'"),
    ("UPDATE idr_meta.rule SET max_group_size = -1", "max_group_size must be a positive integer"),
    ("UPDATE idr_meta.source_table SET entity_key_expr = 'id; DELETE FROM people'", "must be one expression"),
    ("UPDATE idr_meta.rule SET is_active = FALSE", "no active rule"),
    ("DROP TABLE people", "cannot be read"),
])
def test_run_refuses_bad_configuration_made_with_sql(good_db, sql, expected):
    con = duckdb.connect(str(good_db))
    con.execute(sql)
    con.close()
    before = snapshot(good_db)
    proc = idr_cli("run", "--db", str(good_db))
    assert proc.returncode == 2 and expected in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert snapshot(good_db) == before  # not even a run_history row


def test_unreadable_yaml(good_db, tmp_path):
    p = tmp_path / "broken.yaml"
    p.write_text("sources:\n  - table_id: [unclosed\n")
    before = snapshot(good_db)
    proc = idr_cli("config", "load", str(p), "--db", str(good_db))
    assert proc.returncode == 2 and "not valid YAML at line" in proc.stderr, proc.stderr
    assert snapshot(good_db) == before
    proc = idr_cli("config", "load", str(tmp_path / "missing.yaml"), "--db", str(good_db))
    assert proc.returncode == 2 and "no such file" in proc.stderr


def test_yaml_with_wrong_shape(good_db, tmp_path):
    proc = idr_cli("config", "load", write_yaml(tmp_path, {"sources": [{"table_id": "x"}], "rulez": []}),
                   "--db", str(good_db))
    assert proc.returncode == 2
    assert "sources[0] (table_id 'x'): table_fqn: Field required" in proc.stderr
    assert "(top level): unknown field 'rulez'; did you mean 'rules'?" in proc.stderr


def test_database_path_that_is_not_duckdb(tmp_path):
    bogus = tmp_path / "notes.txt"
    bogus.write_text("this is not a database\n" * 100)
    for args in (["run"], ["init"], ["runs"], ["config", "export"]):
        proc = idr_cli(*args, "--db", str(bogus))
        assert proc.returncode == 2, (args, proc.stderr)
        assert "not a readable DuckDB database" in proc.stderr or "cannot open" in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
    assert bogus.read_text() == "this is not a database\n" * 100


def test_database_that_does_not_exist_or_is_not_initialised(tmp_path):
    proc = idr_cli("run", "--db", str(tmp_path / "nope.duckdb"))
    assert proc.returncode == 2 and "no such database" in proc.stderr
    assert not (tmp_path / "nope.duckdb").exists()
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    proc = idr_cli("run", "--db", str(empty))
    assert proc.returncode == 2 and "idr init" in proc.stderr


def test_bad_cli_arguments(good_db):
    proc = idr_cli("run", "--run-mode", "SOMETIMES", "--db", str(good_db))
    assert proc.returncode == 2 and "SOMETIMES" in proc.stderr
    proc = idr_cli("run", "--max-iters", "0", "--db", str(good_db))
    assert proc.returncode == 2 and "--max-iters" in proc.stderr


def test_runtime_failure_is_recorded_and_previous_results_stay(good_db):
    """An expression that validates but fails while reading data: FAILED, exit 1, outputs untouched."""
    outputs = ["identity_resolved_membership_current", "identity_clusters_current", "identity_edges_current"]
    before = {t: query(good_db, f"SELECT * FROM idr_out.{t} ORDER BY ALL") for t in outputs}
    con = duckdb.connect(str(good_db))
    con.execute("UPDATE idr_meta.identifier_mapping SET identifier_value_expr = 'CAST(email AS INTEGER)'")
    con.close()
    proc = idr_cli("run", "--db", str(good_db))
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "run failed" in proc.stderr
    (status, stage, msg), = query(good_db, "SELECT status, error_stage, error_message FROM idr_out.run_history "
                                           "ORDER BY started_at DESC LIMIT 1")
    assert status == "FAILED" and stage == "extract" and "Conversion" in msg
    assert {t: query(good_db, f"SELECT * FROM idr_out.{t} ORDER BY ALL") for t in outputs} == before


@pytest.mark.parametrize("expr, expected", [
    ("max(email)", "aggregate and window functions are not allowed"),
    ("row_number() OVER ()", "aggregate and window functions are not allowed"),
    ("no_such_function(email)", "cannot be evaluated"),
    ("histogram(email)", "aggregates over rows"),
])
def test_expressions_that_cannot_run_per_row_are_refused(good_db, tmp_path, expr, expected):
    cfg = simple_config(types={"email": "EMAIL"})
    cfg["sources"][0]["identifiers"][0]["identifier_value_expr"] = expr
    proc = idr_cli("config", "load", write_yaml(tmp_path, cfg), "--db", str(good_db))
    assert proc.returncode == 2 and expected in proc.stderr, proc.stderr


def test_misspelt_config_key_is_refused_with_a_suggestion(good_db, tmp_path):
    cfg = simple_config(types={"email": "EMAIL"}, extra={"config": {"large_cluster_treshold": "10"}})
    proc = idr_cli("config", "load", write_yaml(tmp_path, cfg), "--db", str(good_db))
    assert proc.returncode == 2 and "did you mean 'large_cluster_threshold'" in proc.stderr, proc.stderr


def test_seed_positional_insert_into_source_table(good_db):
    """DESIGN's six leading columns are all there is: a six-value INSERT works as the manual shows."""
    con = duckdb.connect(str(good_db))
    con.execute("CREATE TABLE more_people AS SELECT 7 AS id, 'z@x.com' AS email")
    con.execute("INSERT INTO idr_meta.source_table VALUES ('more', 'more_people', 'id', NULL, 0, TRUE)")
    con.execute("INSERT INTO idr_meta.identifier_mapping VALUES ('more', 'EMAIL', 'email', FALSE)")
    con.close()
    proc = idr_cli("run", "--db", str(good_db))
    assert proc.returncode == 0, proc.stderr
    assert query(good_db, "SELECT count(*) FROM idr_out.identity_resolved_membership_current") == [(3,)]


@pytest.mark.parametrize("expr", ["unnest(string_split(email, ','))", "COLUMNS('^e')"])
def test_expressions_that_change_rows_or_columns_are_refused(good_db, tmp_path, expr):
    cfg = simple_config(types={"email": "EMAIL"})
    cfg["sources"][0]["identifiers"][0]["identifier_value_expr"] = expr
    proc = idr_cli("config", "load", write_yaml(tmp_path, cfg), "--db", str(good_db))
    assert proc.returncode == 2 and "one value per row" in proc.stderr, proc.stderr


def test_null_in_idr_meta_is_a_problem_not_a_default(good_db):
    con = duckdb.connect(str(good_db))
    con.execute("UPDATE idr_meta.rule SET max_group_size = NULL")
    con.close()
    before = snapshot(good_db)
    proc = idr_cli("run", "--db", str(good_db))
    assert proc.returncode == 2 and "max_group_size = NULL" in proc.stderr, proc.stderr
    assert snapshot(good_db) == before


@pytest.mark.parametrize("mutation, expected", [
    (lambda c: c["rules"][0].update(max_group_size=10**11), "max_group_size"),
    (lambda c: c.update(config={"memory_limit": "99999999999999TB"}), "memory_limit"),
    (lambda c: c["sources"][0].update(identifiers=[]), "nothing can link"),
])
def test_out_of_range_and_empty_configurations(good_db, tmp_path, mutation, expected):
    cfg = simple_config(types={"email": "EMAIL"})
    mutation(cfg)
    if expected == "nothing can link":
        cfg["rules"] = []
    path = write_yaml(tmp_path, cfg)
    proc = idr_cli("config", "load", path, "--db", str(good_db))
    if expected == "memory_limit":  # a valid-looking size DuckDB cannot take: refused at run time
        assert proc.returncode == 0, proc.stderr
        proc = idr_cli("run", "--db", str(good_db))
    assert proc.returncode == 2 and expected in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_dropped_output_table_asks_for_init(good_db):
    con = duckdb.connect(str(good_db))
    con.execute("DROP TABLE idr_out.run_history")
    con.close()
    proc = idr_cli("run", "--db", str(good_db))
    assert proc.returncode == 2 and "idr init" in proc.stderr and "Traceback" not in proc.stderr
    assert idr_cli("init", "--db", str(good_db)).returncode == 0
    assert idr_cli("run", "--db", str(good_db)).returncode == 0


def test_export_to_unwritable_path(good_db, tmp_path):
    proc = idr_cli("config", "export", "--db", str(good_db), "--out", str(tmp_path / "no" / "such" / "x.yaml"))
    assert proc.returncode == 2 and "No such file" in proc.stderr and "Traceback" not in proc.stderr
    proc = idr_cli("runs", "--limit", "-1", "--db", str(good_db))
    assert proc.returncode == 2 and "positive integer" in proc.stderr
