"""peers.compare_partitions: what "same partition as Splink" means in the benchmark."""

import duckdb

from peers import compare_partitions


def _idr_db(path, rows):
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA idr_out")
    con.execute("CREATE TABLE idr_out.identity_resolved_membership_current (entity_key VARCHAR, resolved_id VARCHAR)")
    con.executemany("INSERT INTO idr_out.identity_resolved_membership_current VALUES (?, ?)", rows)
    con.close()


def _peer_db(path, rows):
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE membership (entity_key VARCHAR, resolved_id VARCHAR)")
    con.executemany("INSERT INTO membership VALUES (?, ?)", rows)
    con.close()


def test_same_partition_under_other_ids(tmp_path):
    _idr_db(tmp_path / "i.duckdb", [("a", "a"), ("b", "a"), ("c", "c")])
    _peer_db(tmp_path / "p.duckdb", [("a", "7"), ("b", "7"), ("c", "9")])
    r = compare_partitions(tmp_path / "i.duckdb", tmp_path / "p.duckdb")
    assert r["same_partition"] and r["cluster_pairs"] == 2


def test_split_merge_and_missing_records_differ(tmp_path):
    _idr_db(tmp_path / "i.duckdb", [("a", "a"), ("b", "a"), ("c", "c")])
    _peer_db(tmp_path / "p.duckdb", [("a", "1"), ("b", "2"), ("c", "2")])
    assert not compare_partitions(tmp_path / "i.duckdb", tmp_path / "p.duckdb")["same_partition"]
    _peer_db(tmp_path / "q.duckdb", [("a", "1"), ("b", "1")])
    r = compare_partitions(tmp_path / "i.duckdb", tmp_path / "q.duckdb")
    assert r["only_in_idr"] == 1 and not r["same_partition"]
