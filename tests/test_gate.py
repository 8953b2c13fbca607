"""The anomaly gate (docs/gate.md): statistics on constructed histories, settings
validation, and a bad configuration change held, then rejected or approved."""

from __future__ import annotations

import json

import pytest
from idr_testing import copy_db, execute, idr_cli, make_db, query, simple_config

from idr.errors import ConfigError, InputError
from idr.runs import gate
from idr.runs.decide import approve_run, reject_run
from idr.runs.runner import run

# ---- statistics on constructed histories -------------------------------------------------


def settings(**over) -> gate.GateSettings:
    problems: list[str] = []
    raw = {k: v for k, (v, _) in gate.GATE_SETTINGS.items()} | over
    s = gate.parse_settings(lambda k: raw[k], problems)
    assert problems == []
    return s


def history(**series) -> list[dict]:
    n = len(next(iter(series.values())))
    return [{f: series[f][i] for f in series} for i in range(n)]


def test_steady_history_passes_normal_noise_and_flags_a_jump():
    s = settings()
    past = history(edges=[1000, 1010, 990, 1005, 995, 1002])
    assert gate.judge_figures({"edges": 1012}, past, None, s) == []
    [flag] = gate.judge_figures({"edges": 1400}, past, None, s)
    assert flag.figure == "edges" and flag.mode == "warn"
    assert "median 1,001" in flag.reason and "MAD 5;" in flag.reason and "last 6 published runs" in flag.reason


def test_no_judgement_before_minimum_history():
    s = settings(gate_min_history="5")
    past = history(largest_cluster=[3, 3, 3, 3])
    assert gate.judge_figures({"largest_cluster": 5000}, past, None, s) == []
    [flag] = gate.judge_figures({"largest_cluster": 5000}, past + history(largest_cluster=[3]), None, s)
    assert flag.mode == "hold"  # largest_cluster=hold in the default gate_modes


def test_one_odd_run_in_history_does_not_move_the_median():
    s = settings()
    past = history(clusters=[500, 502, 498, 90000, 501, 499])  # one wild value
    assert gate.judge_figures({"clusters": 503}, past, None, s) == []
    assert [f.figure for f in gate.judge_figures({"clusters": 900}, past, None, s)] == ["clusters"]


def test_floors_stop_tiny_changes_on_a_flat_history():
    s = settings(gate_min_change="10", gate_min_relative_change="0.1")
    past = history(merges=[0] * 8, edges=[1000] * 8)  # MAD 0
    assert gate.judge_figures({"merges": 9, "edges": 1099}, past, None, s) == []
    assert {f.figure for f in gate.judge_figures({"merges": 11, "edges": 1101}, past, None, s)} == {"merges", "edges"}


def test_merge_fraction_limit_applies_without_history():
    s = settings(gate_max_merge_fraction="0.02")
    assert gate.judge_figures({"merges": 19}, [], 1000, s) == []
    [flag] = gate.judge_figures({"merges": 21}, [], 1000, s)
    assert flag.mode == "hold" and "2.10% of the 1,000 clusters" in flag.reason


def test_ceilings_and_modes():
    s = settings(gate_max="skipped_groups=5", gate_modes="skipped_groups=hold,merges=off", gate_mode="warn")
    flags = gate.judge_figures({"skipped_groups": 6, "merges": 10 ** 6}, [], 10, s)
    assert [(f.figure, f.mode) for f in flags] == [("skipped_groups", "hold")]


@pytest.mark.parametrize("key,value,message", [
    ("gate_mode", "block", "gate_mode='block': expected one of off, warn, hold"),
    ("gate_modes", "merge=hold", "unknown figure 'merge'"),
    ("gate_modes", "merges=stop", "merges='stop': expected one of off, warn, hold"),
    ("gate_max", "edges=-3", "gate_max='-3': must be zero or more"),
    ("gate_mad_threshold", "-1", "gate_mad_threshold='-1': must be zero or more"),
    ("gate_max_merge_fraction", "lots", "expected a number"),
    ("gate_min_history", "0", "must be positive"),
])
def test_bad_gate_settings_are_listed(key, value, message):
    problems: list[str] = []
    raw = {k: v for k, (v, _) in gate.GATE_SETTINGS.items()} | {key: value}
    assert gate.parse_settings(lambda k: raw[k], problems) is None
    assert any(message in p for p in problems), problems


def test_bad_gate_setting_stops_a_run_with_exit_2(db_path):
    make_db(db_path, {"people": [{"id": "1", "email": "a@x.com"}]},
            simple_config(extra={"config": {"gate_mode": "block", "gate_modes": "nope=hold"}}))
    with pytest.raises(ConfigError) as e:
        run(str(db_path))
    assert "gate_mode='block'" in str(e.value) and "unknown figure 'nope'" in str(e.value)
    r = idr_cli("run", "--db", str(db_path))
    assert r.returncode == 2 and "gate_mode" in r.stderr
    assert query(db_path, "SELECT count(*) FROM idr_out.run_history") == [(0,)]


# ---- a bad configuration change: a junk email glues thousands of clusters ----------------

PEOPLE = 3000
JUNK = "noreply@example.com"


def people(n: int, extra: int = 0) -> list[dict]:
    """n people with their own email; every third also gave the shop's junk address."""
    return [{"id": f"p{i:05d}", "email": f"person{i}@mail.com", "email2": JUNK if i % 3 == 0 else None}
            for i in range(n + extra)]


def junk_config(excluded: bool, **settings_) -> dict:
    cfg = simple_config(types={"email": "EMAIL"})
    cfg["sources"][0]["identifiers"].append({"identifier_type": "EMAIL", "identifier_value_expr": "email2"})
    cfg["sources"][0]["watermark_column"] = None
    if excluded:
        cfg["exclusions"] = [{"identifier_type": "EMAIL", "identifier_value_pattern": JUNK, "reason": "shop default"}]
    cfg["config"] = settings_
    return cfg


OUTPUTS = ("identity_resolved_membership_current", "identity_clusters_current", "identity_identifier_pairs_current",
           "identity_skipped_groups_current")


def snapshot(path) -> dict:
    out = {t: sorted(query(path, f"SELECT * FROM idr_out.{t}")) for t in OUTPUTS}
    out["run_state"] = query(path, "SELECT * FROM idr_meta.run_state ORDER BY table_id")
    return out


def build_history(path, runs: int = 5) -> None:
    """`runs` published FULL runs, a few new people each time (a normal history)."""
    make_db(path, {"people": people(PEOPLE)}, junk_config(excluded=True))
    for i in range(runs):
        execute(path, f"INSERT INTO people SELECT 'q{i}_' || range, 'new{i}_' || range || '@mail.com', NULL "
                      "FROM range(3)")
        assert run(str(path)).status == "SUCCESS"


def remove_exclusion(path) -> None:
    execute(path, "DELETE FROM idr_meta.identifier_exclusion")


def test_removed_exclusion_is_held_then_rejected_results_untouched(db_path):
    build_history(db_path)
    before = snapshot(db_path)
    remove_exclusion(db_path)
    r = idr_cli("run", "--db", str(db_path))
    assert r.returncode == 3, r.stderr
    [(run_id, status, report, warnings)] = query(
        db_path, "SELECT run_id, status, gate_report, warnings FROM idr_out.run_history "
                 "ORDER BY started_at DESC LIMIT 1")
    assert status == "HELD" and run_id in r.stdout
    flags = {f["figure"]: f for f in json.loads(report)["flags"]}
    assert flags["merges"]["mode"] == "hold" and flags["merges"]["value"] == PEOPLE // 3 - 1
    assert flags["largest_cluster"]["mode"] == "hold" and flags["largest_cluster"]["value"] == PEOPLE // 3
    assert f"idr approve {run_id}" in warnings
    assert snapshot(db_path) == before  # nothing published
    kept = query(db_path, "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'idr_work' "
                          "AND starts_with(table_name, ?)", [f"held_{run_id}__"])[0][0]
    assert kept >= 5
    metrics = dict(query(db_path, "SELECT metric_name, metric_value FROM idr_out.metrics_export WHERE run_id = ? "
                                  "AND metric_name IN ('idr_gate_figures_flagged')", [run_id]))
    assert metrics["idr_gate_figures_flagged"] >= 2
    assert query(db_path, "SELECT json_extract_string(dimensions, '$.status') FROM idr_out.metrics_export "
                          "WHERE run_id = ? AND metric_name = 'idr_run_status'", [run_id]) == [("HELD",)]

    r = idr_cli("reject", run_id, "--db", str(db_path))
    assert r.returncode == 0, r.stderr
    assert snapshot(db_path) == before
    assert query(db_path, "SELECT status FROM idr_out.run_history WHERE run_id = ?", [run_id]) == [("REJECTED",)]
    assert query(db_path, "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'idr_work'") == [(0,)]
    r = idr_cli("approve", run_id, "--db", str(db_path))
    assert r.returncode == 2 and "only a HELD run" in r.stderr


def published_result(path) -> dict:
    """The published state without run ids and timestamps (they differ between copies)."""
    return {
        "membership": sorted(query(path, "SELECT entity_key, resolved_id, table_id, entity_id "
                                         "FROM idr_out.identity_resolved_membership_current")),
        "clusters": sorted(query(path, "SELECT resolved_id, cluster_size FROM idr_out.identity_clusters_current")),
        "pairs": sorted(query(path, "SELECT entity_id, identifier_type, identifier_value_norm "
                                    "FROM idr_out.identity_identifier_pairs_current")),
        "skipped": sorted(query(path, "SELECT identifier_type, identifier_value_norm, group_size "
                                      "FROM idr_out.identity_skipped_groups_current")),
        "watermarks": query(path, "SELECT table_id, last_watermark_value FROM idr_meta.run_state ORDER BY 1"),
        "lineage": sorted(query(path, "SELECT event, resolved_id, related_resolved_id, entities_moved "
                                      "FROM idr_out.resolved_id_lineage")),
        "golden": sorted(query(path, "SELECT * EXCLUDE (run_id, updated_ts) FROM idr_out.golden_profile_current"),
                         key=repr),
        "provenance": sorted(query(path, "SELECT resolved_id, attribute_name, entity_key, strategy "
                                         "FROM idr_out.golden_profile_provenance_current")),
    }


@pytest.mark.parametrize("golden", [False, True], ids=["plain", "golden"])
@pytest.mark.parametrize("mode", ["FULL", "INCR"])
def test_held_run_approved_publishes_exactly_what_it_computed(tmp_path, mode, golden):
    held_db = tmp_path / "held.duckdb"
    build_history(held_db, runs=2)
    execute(held_db, "ALTER TABLE people ADD COLUMN updated_at TIMESTAMP DEFAULT TIMESTAMP '2026-01-01'",
            "UPDATE idr_meta.source_table SET watermark_column = 'updated_at'")
    if golden:  # golden profiles, with provenance, are published on approval like the rest
        execute(held_db, "INSERT INTO idr_meta.entity_attribute_mapping VALUES ('src', 'mail', 'email'), "
                         "('src', 'backup_mail', 'email2')",
                "INSERT INTO idr_meta.survivorship_rule (attribute_name, strategy) VALUES ('mail', 'LONGEST'), "
                "('backup_mail', 'MOST_FREQUENT')")
    assert run(str(held_db)).status == "SUCCESS"
    if mode == "FULL":
        remove_exclusion(held_db)
    else:
        # 200 new records, each giving the emails of two people: 200 merges (over 2% of
        # ~3,000 clusters) in an INCR run under the same configuration.
        execute(held_db, "INSERT INTO people SELECT 'link' || range, 'person' || (2 * range + 1) || '@mail.com', "
                         "'person' || (2 * range + 2) || '@mail.com', TIMESTAMP '2026-02-01' FROM range(200)")
    free_db = tmp_path / "free.duckdb"
    copy_db(held_db, free_db)
    execute(free_db, "INSERT INTO idr_meta.config (config_key, config_value) VALUES ('gate_mode', 'off'), "
                     "('gate_modes', '')")
    held = run(str(held_db), mode)
    free = run(str(free_db), mode)
    assert (held.mode, free.mode) == (mode, mode)
    assert held.status == "HELD" and free.status == "SUCCESS"
    assert held.counts["merges"] == free.counts["merges"] > 0
    approve_run(str(held_db), held.run_id)
    assert published_result(held_db) == published_result(free_db)
    if golden:
        assert published_result(held_db)["golden"] and published_result(held_db)["provenance"]
    [(status, warnings)] = query(held_db, "SELECT status, warnings FROM idr_out.run_history WHERE run_id = ?",
                                 [held.run_id])
    assert status == "SUCCESS_WITH_WARNINGS" and "approved by `idr approve`" in warnings
    assert query(held_db, "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'idr_work'") == [(0,)]
    # The next INCR builds on the approved run as on any published one, and finds nothing new.
    nxt = run(str(held_db), "INCR")
    assert nxt.mode == "INCR" and published_result(held_db) == published_result(free_db)


def test_approve_refused_after_another_run_published(db_path):
    build_history(db_path, runs=1)
    remove_exclusion(db_path)
    held = run(str(db_path))
    assert held.status == "HELD"
    execute(db_path, "INSERT INTO idr_meta.config (config_key, config_value) VALUES ('gate_mode', 'off'), "
                     "('gate_modes', '')")
    assert run(str(db_path)).status == "SUCCESS"
    with pytest.raises(InputError, match="published results after this run was computed"):
        approve_run(str(db_path), held.run_id)
    assert reject_run(str(db_path), held.run_id).status == "REJECTED"


def test_approve_refused_after_configuration_change(db_path):
    build_history(db_path, runs=1)
    remove_exclusion(db_path)
    held = run(str(db_path))
    execute(db_path, "UPDATE idr_meta.rule SET max_group_size = 500")
    with pytest.raises(InputError, match="configuration changed"):
        approve_run(str(db_path), held.run_id)


def test_dry_run_reports_what_the_gate_would_do(db_path):
    build_history(db_path, runs=1)
    remove_exclusion(db_path)
    before = snapshot(db_path)
    r = idr_cli("run", "--dry-run", "--db", str(db_path))
    assert r.returncode == 0, r.stderr
    assert "the anomaly gate would hold: gate hold: merges 999" in r.stdout
    assert snapshot(db_path) == before
    [(status, report)] = query(db_path, "SELECT status, gate_report FROM idr_out.run_history "
                                        "ORDER BY started_at DESC LIMIT 1")
    assert status == "DRY_RUN_COMPLETE" and json.loads(report)["decision"] == "hold"
