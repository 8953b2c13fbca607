"""Relative source paths are resolved against the database file's folder, not the
directory idr is started in, so one configuration reads the same files from anywhere."""

from __future__ import annotations

import duckdb
import yaml

from idr_testing import idr_cli, query

CONFIG = {
    "sources": [{"table_id": "crm", "table_fqn": "data/crm.parquet", "entity_key_expr": "id",
                 "identifiers": [{"identifier_type": "EMAIL", "identifier_value_expr": "email"}]},
                {"table_id": "web", "table_fqn": "data/web.csv", "entity_key_expr": "id",
                 "identifiers": [{"identifier_type": "EMAIL", "identifier_value_expr": "email"}]}],
    "rules": [{"rule_id": "email", "identifier_type": "EMAIL", "canonicalize": "EMAIL"}],
}


def _project(tmp_path):
    """project/idr.duckdb with its sources in project/data/, and an unrelated directory."""
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    (project / "data").mkdir(parents=True)
    elsewhere.mkdir()
    con = duckdb.connect()
    con.execute(f"COPY (SELECT * FROM (VALUES (1, 'a@x.com'), (2, 'b@x.com')) t(id, email)) "
                f"TO '{project / 'data' / 'crm.parquet'}'")
    con.execute(f"COPY (SELECT * FROM (VALUES (7, 'A@x.com '), (8, 'c@x.com')) t(id, email)) "
                f"TO '{project / 'data' / 'web.csv'}' (HEADER)")
    con.close()
    (project / "idr.yaml").write_text(yaml.safe_dump(CONFIG))
    return project, elsewhere


def test_same_configuration_runs_from_two_directories(tmp_path):
    project, elsewhere = _project(tmp_path)
    db = project / "idr.duckdb"
    assert idr_cli("init", "--db", str(db)).returncode == 0
    # Loaded from the unrelated directory: data/ does not exist there.
    load = idr_cli("config", "load", str(project / "idr.yaml"), "--db", str(db), cwd=elsewhere)
    assert load.returncode == 0, load.stderr
    clusters = []
    for cwd, db_arg in ((project, "idr.duckdb"), (elsewhere, str(db)), (tmp_path, "project/idr.duckdb")):
        proc = idr_cli("run", "--db", db_arg, "--quiet", cwd=cwd)
        assert proc.returncode == 0, (cwd, proc.stderr)
        clusters.append(query(db, "SELECT entity_key, resolved_id FROM "
                                  "idr_out.identity_resolved_membership_current ORDER BY 1"))
    assert clusters[0] == clusters[1] == clusters[2]
    assert dict(clusters[0])["crm:1"] == dict(clusters[0])["web:7"]  # a@x.com from both files
    assert len(clusters[0]) == 4
    # The configuration keeps the path as written; only reading resolves it.
    export = idr_cli("config", "export", "--db", str(db), cwd=elsewhere)
    assert "table_fqn: data/crm.parquet" in export.stdout


def test_missing_relative_file_names_the_folder_it_was_looked_for_in(tmp_path):
    project, elsewhere = _project(tmp_path)
    (project / "data" / "web.csv").unlink()
    db = project / "idr.duckdb"
    assert idr_cli("init", "--db", str(db)).returncode == 0
    proc = idr_cli("config", "load", str(project / "idr.yaml"), "--db", str(db), cwd=elsewhere)
    assert proc.returncode == 2
    assert "source 'data/web.csv' cannot be read" in proc.stderr
    assert str(project / "data" / "web.csv") in proc.stderr  # where idr looked
