"""Alerting and dashboard assets: promtool on the rules, their unit tests and the config;
every metric they name is one the exporter produces; the dashboard's PromQL parses."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import datetime
from pathlib import Path

import yaml

from idr.metrics.prometheus import families
from idr.metrics.server import DatabaseCollector
from idr.metrics.store import LatestState, Sample
from idr.metrics.taxonomy import METRICS
from metrics_testing import promtool

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
METRIC_NAME = re.compile(r"\b(idr_[a-z0-9_]+)\b")


def promtool_ok(*args: str, cwd=None) -> str:
    proc = subprocess.run([promtool(), *args], capture_output=True, text=True, timeout=60, cwd=cwd)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def exported_names() -> set[str]:
    """Every metric name the exporter can produce, from a state with one of each row."""
    now = datetime(2026, 1, 1)
    samples = [Sample(name, 1.0, m.type, {}) for name, m in METRICS.items()]
    samples += [Sample(name, 1.0, m.type, {"rule": "EMAIL"}) for name, m in METRICS.items() if m.per_rule_key]
    state = LatestState(samples=samples, last_status="SUCCESS", last_run_at=now, last_success_at=now)
    names = set()
    for fam in families(state) + DatabaseCollector("unused").load()[-1:]:
        names |= {s.name for s in fam.samples}
    return names


def test_alert_rules_pass_promtool_check_and_unit_tests():
    out = promtool_ok("check", "rules", str(DEPLOY / "prometheus" / "alerts.yml"))
    n = sum(len(g["rules"]) for g in yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())["groups"])
    assert n >= 8 and f"SUCCESS: {n} rules found" in out
    promtool_ok("test", "rules", "alerts_test.yml", cwd=DEPLOY / "prometheus")
    promtool_ok("check", "config", "prometheus.yml", cwd=DEPLOY / "prometheus")


def test_alert_rules_cover_the_seed_and_stale_runs():
    rules = {r["alert"]: r for g in yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())["groups"]
             for r in g["rules"]}
    assert {"IDRRunFailed", "IDRLargeClusterCreated", "IDRHighSkipRate", "IDRNoRecentSuccess"} <= set(rules)
    assert 'idr_run_status{status=~"FAILED|INTERRUPTED"}' in rules["IDRRunFailed"]["expr"]
    assert rules["IDRHighSkipRate"]["expr"] == "idr_groups_skipped / idr_entities_processed > 0.1"
    # The anomaly gate (docs/gate.md): a held run waiting is critical, a warned one a warning.
    assert rules["IDRRunHeld"]["labels"]["severity"] == "critical"
    assert 'idr_run_status{status="HELD"}' in rules["IDRRunHeld"]["expr"] and rules["IDRRunHeld"]["for"] == "2h"
    assert rules["IDRAnomalyWarned"]["labels"]["severity"] == "warning"
    assert "idr_gate_figures_flagged" in rules["IDRAnomalyWarned"]["expr"]
    names = {n for r in rules.values() for n in METRIC_NAME.findall(r["expr"])}
    assert names <= exported_names(), names - exported_names()
    assert "run_id" not in (DEPLOY / "prometheus" / "alerts.yml").read_text()


def _panels(dash: dict) -> list[dict]:
    out = []
    for p in dash["panels"]:
        out += [p] + p.get("panels", [])
    return out


def test_dashboard_queries_parse_and_use_exported_metrics(tmp_path):
    dash = json.loads((DEPLOY / "grafana" / "dashboards" / "idr.json").read_text())
    titles = {p["title"] for p in _panels(dash)}
    assert {"Run duration", "Last run status", "Clusters", "Largest cluster", "Skipped groups",
            "Stage durations"} <= titles
    exprs = [t["expr"] for p in _panels(dash) for t in p.get("targets", [])]
    used = {n for e in exprs for n in METRIC_NAME.findall(e)}
    assert used <= exported_names(), used - exported_names()
    # promtool parses PromQL when it checks rules: one recording rule per panel query,
    # with Grafana's variables replaced by values.
    concrete = [e.replace("$__range", "1d").replace("$job", ".*") for e in exprs]
    rules = {"groups": [{"name": "dashboard", "rules": [{"record": f"dashboard:query_{i}", "expr": e}
                                                          for i, e in enumerate(concrete)]}]}
    path = tmp_path / "dashboard_queries.yml"
    path.write_text(yaml.safe_dump(rules))
    assert f"SUCCESS: {len(exprs)} rules found" in promtool_ok("check", "rules", str(path))


def test_grafana_provisioning_points_at_the_dashboard():
    provider = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "dashboards" / "idr.yaml").read_text())
    assert provider["apiVersion"] == 1 and provider["providers"][0]["type"] == "file"
    sources = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yaml").read_text())
    assert sources["datasources"][0]["type"] == "prometheus"
    dash = json.loads((DEPLOY / "grafana" / "dashboards" / "idr.json").read_text())
    assert dash["uid"] and {v["name"] for v in dash["templating"]["list"]} == {"datasource", "job"}
    assert all(p["datasource"]["uid"] == "${datasource}" for p in _panels(dash))
