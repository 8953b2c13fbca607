"""Golden SQL: the exact text every builder renders in every dialect, and (DuckDB) that the
text runs. tests/sql/golden/<dialect>.sql holds one section per builder ("-- name" then the
statement). After an intended change, regenerate with IDR_UPDATE_GOLDEN=1 and review the diff."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import duckdb
import pytest

from builders import BUILDERS
from idr.backends.duckdb import DuckDBBackend
from idr.schema import ensure_schema
from idr.sql.dialects import DIALECTS

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("IDR_UPDATE_GOLDEN") == "1"


def _read(dialect: str) -> dict[str, str]:
    path = GOLDEN / f"{dialect}.sql"
    if not path.exists():
        return {}
    sections = re.split(r"^-- (\S+)\n", path.read_text(), flags=re.M)[1:]
    return {name: body.strip() for name, body in zip(sections[::2], sections[1::2])}


def _write(dialect: str) -> None:
    GOLDEN.mkdir(exist_ok=True)
    text = "".join(f"-- {name}\n{build(DIALECTS[dialect]).strip()}\n\n" for name, build in sorted(BUILDERS.items()))
    (GOLDEN / f"{dialect}.sql").write_text(text)


@pytest.fixture(scope="module", params=sorted(DIALECTS))
def golden(request):
    if UPDATE:
        _write(request.param)
    return request.param, _read(request.param)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_builder_renders_its_golden_sql(golden, name):
    dialect, expected = golden
    assert name in expected, f"no golden SQL for {name} in {dialect}.sql: run with IDR_UPDATE_GOLDEN=1"
    assert BUILDERS[name](DIALECTS[dialect]).strip() == expected[name]


def test_golden_files_have_no_stale_sections():
    for dialect in DIALECTS:
        assert sorted(_read(dialect)) == sorted(BUILDERS), dialect


# -- the DuckDB text runs -----------------------------------------------------------------------

# The session relations the builders read, with their columns (empty: the statements are
# planned and executed, which checks names, types and functions).
RELATIONS = {
    "crm": "id INTEGER, email VARCHAR, card VARCHAR, ts TIMESTAMP, is_deleted BOOLEAN",
    "idr_src_0": "k INTEGER, del BOOLEAN, wm TIMESTAMP, v0 VARCHAR, v1 VARCHAR",
    "idr_xkeys_0": "k INTEGER",
    "idr_keys_0": "k INTEGER, eid BIGINT",
    "idr_raw_ids": "eid BIGINT, kind INTEGER, raw_value VARCHAR, dup BOOLEAN",
    "idr_kinds": "kind INTEGER, type_idx INTEGER, identifier_type VARCHAR, max_group_size BIGINT",
    "idr_types": "type_idx INTEGER, identifier_type VARCHAR, max_group_size BIGINT",
    "idr_placeholders": "key VARCHAR",
    "idr_excluded_exact": "kind INTEGER, value_norm VARCHAR",
    "idr_status": "eid BIGINT, type_idx SMALLINT, value_norm VARCHAR, dup BOOLEAN, status TINYINT",
    "idr_delta_keys": "entity_key VARCHAR",
    "idr_entities": "entity_key VARCHAR, table_id VARCHAR, eid BIGINT, entity_id BIGINT",
    "idr_delta_old": "entity_key VARCHAR, entity_id BIGINT, resolved_id VARCHAR",
    "idr_removed_entities": "entity_key VARCHAR",
    "idr_new_ids": "entity_id BIGINT, type_idx SMALLINT, value_norm VARCHAR",
    "idr_old_ids": "entity_id BIGINT, type_idx SMALLINT, value_norm VARCHAR",
    "idr_published_pairs": "entity_id BIGINT, identifier_type VARCHAR, identifier_value_norm VARCHAR, run_id VARCHAR, "
                           "type_idx SMALLINT, own BOOLEAN, probed BOOLEAN",
    "idr_probe_values": "identifier_type VARCHAR, type_idx SMALLINT, value_norm VARCHAR",
    "idr_hits": "entity_id BIGINT, type_idx SMALLINT, value_norm VARCHAR",
    "idr_changed_pairs": "entity_id BIGINT, type_idx SMALLINT, value_norm VARCHAR, change INTEGER",
    "idr_value_change": "type_idx SMALLINT, value_norm VARCHAR, change HUGEINT, skipped_size BIGINT, max_size BIGINT, "
                        "identifier_type VARCHAR",
    "idr_value_holders": "entity_id BIGINT, type_idx SMALLINT, value_norm VARCHAR",
    "idr_group_change": "type_idx SMALLINT, value_norm VARCHAR, change HUGEINT, skipped_size BIGINT, "
                        "max_size BIGINT, identifier_type VARCHAR, new_size HUGEINT",
    "idr_scope_clusters": "resolved_id VARCHAR",
    "idr_scope_old": "entity_key VARCHAR, table_id VARCHAR, resolved_id VARCHAR, entity_id BIGINT",
    "idr_carried": "entity_key VARCHAR, table_id VARCHAR, entity_id BIGINT, eid BIGINT",
    "idr_carried_ids": "eid BIGINT, type_idx SMALLINT, value_norm VARCHAR",
    "idr_group_sizes": "type_idx SMALLINT, value_norm VARCHAR, n BIGINT",
    "idr_groups": "type_idx SMALLINT, value_norm VARCHAR, n BIGINT, anchor BIGINT, skipped BOOLEAN, "
                  "max_group_size BIGINT",
    "idr_skipped": "identifier_type VARCHAR, identifier_value_norm VARCHAR, group_size BIGINT, max_allowed BIGINT, "
                   "sample_entity_keys VARCHAR[]",
    "idr_edges": "src BIGINT, dst BIGINT, type_idx SMALLINT, value_norm VARCHAR",
    "idr_cc__cc_edges": "src BIGINT, dst BIGINT",
    "idr_cc__cc_large": "src BIGINT, dst BIGINT",
    "idr_cc": "node BIGINT, component BIGINT",
    "idr_clusters": "component BIGINT, min_key VARCHAR, cluster_size BIGINT",
    "idr_overlap": "component BIGINT, old_id VARCHAR, n BIGINT",
    "idr_kept": "component BIGINT, old_id VARCHAR",
    "idr_fresh": "component BIGINT, min_key VARCHAR, resolved_id VARCHAR, attempt INTEGER",
    "idr_taken": "resolved_id VARCHAR",
    "idr_clash": "component BIGINT",
    "idr_proposed_clusters": "component BIGINT, resolved_id VARCHAR, cluster_size BIGINT",
    "idr_dr_scope": "entity_key VARCHAR, table_id VARCHAR, cur_rid VARCHAR, prop_rid VARCHAR, change_type VARCHAR",
    "idr_dr_rids": "rid VARCHAR, kept BIGINT, cur_size BIGINT, prop_size BIGINT",
    "idr_dr_changed": "rid VARCHAR",
    "idr_lineage_pairs": "event VARCHAR, resolved_id VARCHAR, related_resolved_id VARCHAR, entities_moved BIGINT, "
                         "new_size BIGINT, old_id VARCHAR",
    "idr_lineage": "event VARCHAR, resolved_id VARCHAR, related_resolved_id VARCHAR, entities_moved BIGINT, "
                   "resolved_cluster_size BIGINT, related_cluster_size BIGINT",
    "idr_gcand": "gid BIGINT, ek VARCHAR, src SMALLINT, rec TIMESTAMP, a0 VARCHAR, a1 VARCHAR, a2 VARCHAR, "
                 "a3 VARCHAR, a4 INTEGER",
    "idr_gsingle": "gid BIGINT, ek VARCHAR, src SMALLINT, rec TIMESTAMP, a0 VARCHAR, a1 VARCHAR, a2 VARCHAR, "
                   "a3 VARCHAR, a4 INTEGER",
    "idr_gcand_ids": "gid BIGINT, ek VARCHAR, src SMALLINT, rec TIMESTAMP, type_idx SMALLINT, v VARCHAR",
    "idr_granked": "gid BIGINT, ek VARCHAR, src SMALLINT, rec TIMESTAMP, eid BIGINT, trust INTEGER, c0 VARCHAR, "
                   "c1 VARCHAR, c2 VARCHAR, c3 VARCHAR, c4 INTEGER, tb BIGINT",
    "idr_granked_ids": "gid BIGINT, ek VARCHAR, src SMALLINT, rec TIMESTAMP, type_idx SMALLINT, trust INTEGER, "
                       "v VARCHAR, tb BIGINT",
    "idr_gclusters": "gid BIGINT, resolved_id VARCHAR",
    "idr_gvalues_attrs": "gid BIGINT, " + ", ".join(f"v{i}_0 VARCHAR, k{i} VARCHAR" for i in range(7)) +
                         ", v0_1 VARCHAR",
    "idr_gvalues_ids": "gid BIGINT, v7_0 VARCHAR, k7 VARCHAR",
}
VIEWS = {"idr_ids": "SELECT eid, type_idx, value_norm FROM idr_status",
         "idr_proposed_membership": "SELECT entity_key, 'r' AS resolved_id, table_id, entity_id FROM idr_entities"}
PARAMS = {"cutoff": dt.datetime(2026, 1, 1), "run_id": "run_x", "ts": dt.datetime(2026, 1, 1), "t": 10,
          "pattern_0": "%@example.com", "pattern_1": "0000%"}


@pytest.fixture(scope="module")
def duckdb_session(tmp_path_factory):
    con = duckdb.connect(str(tmp_path_factory.mktemp("golden") / "g.duckdb"))
    backend = DuckDBBackend(con)
    ensure_schema(backend)
    for name, cols in RELATIONS.items():
        con.execute(f"CREATE TEMP TABLE {name} ({cols})")
    for name, sql in VIEWS.items():
        con.execute(f"CREATE TEMP VIEW {name} AS {sql}")
    yield con
    con.close()


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_duckdb_golden_sql_runs(duckdb_session, name):
    sql = _read("duckdb")[name]
    used = {k: v for k, v in PARAMS.items() if re.search(rf"\${k}\b", sql)}
    duckdb_session.execute("BEGIN TRANSACTION")  # inserts leave nothing behind
    try:
        duckdb_session.execute(sql, used).fetchall()
    finally:
        duckdb_session.execute("ROLLBACK")
