"""Golden-profile configuration: the seed family's tables (positional INSERTs), YAML round
trip, and bad input reported all at once with exit code 2 and nothing written."""

from __future__ import annotations

import yaml

from idr_testing import execute, idr_cli, make_db, query
from test_bad_input import snapshot

ROWS = [{"id": 1, "email": "a@x.com", "first_name": "Ann", "city": "Paris", "postcode": "75001", "age": 31}]


def golden_config(**extra) -> dict:
    cfg = {
        "sources": [{"table_id": "crm", "table_fqn": "people", "entity_key_expr": "id",
                     "identifiers": [{"identifier_type": "EMAIL", "identifier_value_expr": "email"}],
                     "trust": {"source_name": "CRM", "trust_rank": 1},
                     "attributes": [{"attribute_name": n, "attribute_expr": n}
                                    for n in ("first_name", "city", "postcode", "age")]}],
        "rules": [{"rule_id": "email", "identifier_type": "EMAIL", "canonicalize": "EMAIL"}],
        "survivorship": [
            {"attribute_name": "first_name", "strategy": "LONGEST"},
            {"attribute_name": "city", "strategy": "SOURCE_PRIORITY", "attribute_group": "address",
             "source_priority_list": "crm"},
            {"attribute_name": "postcode", "strategy": "SOURCE_PRIORITY", "attribute_group": "address",
             "source_priority_list": "crm"},
            {"attribute_name": "age", "strategy": "MAX"},
            {"attribute_name": "best_email", "strategy": "MOST_FREQUENT", "identifier_type": "EMAIL"},
        ],
    }
    cfg.update(extra)
    return cfg


def test_yaml_round_trip(tmp_path):
    db = make_db(tmp_path / "idr.duckdb", {"people": ROWS}, golden_config())
    out = idr_cli("config", "export", "--db", str(db))
    assert out.returncode == 0, out.stderr
    exported = yaml.safe_load(out.stdout)
    assert exported["sources"][0]["trust"] == {"source_name": "CRM", "trust_rank": 1, "is_active": True}
    assert {r["attribute_name"]: r for r in exported["survivorship"]}["city"] == {
        "attribute_name": "city", "strategy": "SOURCE_PRIORITY", "source_priority_list": "crm",
        "attribute_group": "address"}
    (tmp_path / "again.yaml").write_text(out.stdout)
    db2 = make_db(tmp_path / "two.duckdb", {"people": ROWS}, {})
    assert idr_cli("config", "load", str(tmp_path / "again.yaml"), "--db", str(db2)).returncode == 0
    assert idr_cli("config", "export", "--db", str(db2)).stdout == out.stdout


def test_seed_family_positional_inserts(tmp_path):
    """The seed family's own INSERT ... VALUES statements, column for column."""
    db = make_db(tmp_path / "idr.duckdb", {"people": ROWS},
                 {k: v for k, v in golden_config().items() if k != "survivorship"})
    execute(db, "DELETE FROM idr_meta.source", "DELETE FROM idr_meta.entity_attribute_mapping",
            "INSERT INTO idr_meta.source VALUES ('crm', 'CRM', 1, TRUE)",
            "INSERT INTO idr_meta.entity_attribute_mapping VALUES ('crm', 'first_name', 'first_name')",
            "INSERT INTO idr_meta.entity_attribute_mapping VALUES ('crm', 'record_updated_at', "
            "'TIMESTAMP ''2026-01-01''')",
            "INSERT INTO idr_meta.survivorship_rule VALUES ('first_name', 'SOURCE_PRIORITY', '[\"crm\"]', "
            "'record_updated_at')",
            "INSERT INTO idr_meta.attribute_group VALUES ('name', 'first_name')")
    out = idr_cli("config", "export", "--db", str(db))
    assert out.returncode == 0, out.stderr
    rules = yaml.safe_load(out.stdout)["survivorship"]
    assert rules == [{"attribute_name": "first_name", "strategy": "SOURCE_PRIORITY",
                      "source_priority_list": '["crm"]', "recency_field": "record_updated_at",
                      "attribute_group": "name"}]


def test_every_problem_in_one_message_nothing_written(tmp_path):
    db = make_db(tmp_path / "idr.duckdb", {"people": ROWS}, golden_config())
    before = snapshot(db)
    cfg = golden_config()
    src = cfg["sources"][0]
    src["trust"]["trust_rank"] = 1.5
    src["attributes"] += [{"attribute_name": "nick", "attribute_expr": "nick_name"},
                          {"attribute_name": "bad", "attribute_expr": "city; DROP TABLE people"}]
    cfg["survivorship"] += [
        {"attribute_name": "first_name", "strategy": "MOST_RECENT"},  # a second rule for one attribute
        {"attribute_name": "shoe_size", "strategy": "MAX"},  # nobody maps it
        {"attribute_name": "nick", "strategy": "LOUDEST"},  # unknown strategy
    ]
    cfg["survivorship"][3]["attribute_group"] = "address"  # age (MAX) joins the SOURCE_PRIORITY group
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump(cfg))
    proc = idr_cli("config", "load", str(p), "--db", str(db))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("idr: error:") == 1 and "Traceback" not in proc.stderr
    for fragment in ["trust_rank 1.5 is not an integer", "unknown column 'nick_name'", "must be one expression",
                     "'first_name': two rules", "no active source maps attribute 'shoe_size'",
                     "unknown strategy 'LOUDEST'", "'address': mixes strategies"]:
        assert fragment in proc.stderr, (fragment, proc.stderr)
    assert snapshot(db) == before


def test_rule_rows_edited_with_sql_are_checked_by_the_run(tmp_path):
    db = make_db(tmp_path / "idr.duckdb", {"people": ROWS}, golden_config())
    execute(db, "INSERT INTO idr_meta.survivorship_rule VALUES ('age', 'MIN', NULL, NULL)",
            "INSERT INTO idr_meta.identifier_attribute VALUES ('phone', 'PHONE')")
    before = snapshot(db)
    proc = idr_cli("run", "--db", str(db))
    assert proc.returncode == 2, proc.stderr
    assert "'age': two rules" in proc.stderr and "has no rule (strategy)" in proc.stderr, proc.stderr
    assert snapshot(db) == before
    assert query(db, "SELECT count(*) FROM idr_out.run_history") == [(0,)]
