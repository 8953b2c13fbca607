"""`idr config check [FILE]`: what `idr run` validates, nothing else; writes nothing."""

from __future__ import annotations

import hashlib

import pytest
import yaml

from idr_testing import execute, idr_cli, make_db, query, simple_config

ROWS = [{"id": 1, "email": "a@x.com", "phone": "415 555 2671"}, {"id": 2, "email": "A@x.com ", "phone": None}]


@pytest.fixture
def db(tmp_path):
    return make_db(tmp_path / "idr.duckdb", {"people": ROWS}, simple_config(types={"email": "EMAIL"}))


def fingerprint(db) -> tuple:
    """The database file's bytes, and whether DuckDB left a write-ahead log beside it."""
    return hashlib.sha256(db.read_bytes()).hexdigest(), db.with_name(db.name + ".wal").exists()


def test_good_configuration_in_idr_meta_and_in_a_file(db, tmp_path):
    # A run killed earlier: `idr run` would mark it INTERRUPTED; a check writes nothing.
    execute(db, "INSERT INTO idr_out.run_history (run_id, run_mode, status, started_at) "
                "VALUES ('run_killed', 'FULL', 'RUNNING', now())")
    before = fingerprint(db)
    proc = idr_cli("config", "check", "--db", str(db))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"the configuration in {db} is valid: 1 sources, 1 identifier mappings, 1 rules, " \
                          "0 exclusions, 0 settings\n"
    path = tmp_path / "next.yaml"
    path.write_text(yaml.safe_dump(simple_config(types={"email": "EMAIL", "phone": "PHONE"},
                                                 extra={"config": {"memory_limit": "1GB"}})))
    proc = idr_cli("config", "check", str(path), "--db", str(db))
    assert proc.returncode == 0, proc.stderr
    assert "is valid: 1 sources, 2 identifier mappings, 2 rules" in proc.stdout
    assert fingerprint(db) == before
    assert query(db, "SELECT status FROM idr_out.run_history") == [("RUNNING",)]
    assert query(db, "SELECT count(*) FROM idr_meta.identifier_mapping") == [(1,)]  # the file was not loaded


def test_bad_configuration_in_idr_meta_lists_every_problem(db):
    execute(db, "UPDATE idr_meta.identifier_mapping SET identifier_value_expr = 'lower(mail)'",
            "INSERT INTO idr_meta.rule VALUES ('ssn', 'SSN', 'SOUNDEX', 0, TRUE, 1)",
            "INSERT INTO idr_meta.config (config_key, config_value) VALUES ('metrics_exporters', 'webhook'), "
            "('large_cluster_treshold', '7'), ('components_strategy', 'magic')")
    before = fingerprint(db)
    check = idr_cli("config", "check", "--db", str(db))
    assert check.returncode == 2
    expected = [
        "unknown column 'mail'",
        "idr_meta.rule 'ssn': unknown canonicalize 'SOUNDEX'",
        "idr_meta.rule 'ssn': max_group_size must be a positive integer, got 0",
        "idr_meta.rule 'ssn': no active source maps identifier type 'SSN'",
        "metrics_exporters names webhook but metrics_webhook_url is empty",
        "unknown config_key 'large_cluster_treshold'; did you mean 'large_cluster_threshold'?",
        "components_strategy='magic': expected inprocess or sql",
    ]
    assert check.stderr.startswith(f"idr: error: invalid configuration ({len(expected)} problems):")
    for fragment in expected:
        assert fragment in check.stderr, (fragment, check.stderr)
    assert fingerprint(db) == before
    # The same problems, word for word, as `idr run` reports before it starts.
    run = idr_cli("run", "--db", str(db))
    assert (run.returncode, run.stderr) == (2, check.stderr)


def test_bad_file_is_checked_against_the_database(db, tmp_path):
    cfg = simple_config(types={"email": "EMAIL"})
    cfg["sources"][0]["table_fqn"] = "no_such_table"
    cfg["rules"][0]["canonicalize"] = "EMAIL_STRICT"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    before = fingerprint(db)
    proc = idr_cli("config", "check", str(path), "--db", str(db))
    assert proc.returncode == 2
    assert "(2 problems)" in proc.stderr
    assert "unknown canonicalize 'EMAIL_STRICT'" in proc.stderr
    assert "source 'no_such_table' cannot be read" in proc.stderr
    assert fingerprint(db) == before


def test_missing_file_and_uninitialised_database(tmp_path, db):
    proc = idr_cli("config", "check", str(tmp_path / "nope.yaml"), "--db", str(db))
    assert proc.returncode == 2 and "no such file" in proc.stderr
    bare = tmp_path / "bare.duckdb"
    execute(bare, "CREATE TABLE t (x INTEGER)")
    proc = idr_cli("config", "check", "--db", str(bare))
    assert proc.returncode == 2 and "idr init" in proc.stderr
