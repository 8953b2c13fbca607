"""An in-memory index of one published snapshot: what the service answers from.

Built once per snapshot, vectorised: DuckDB reads each table of the snapshot once (and
hashes its strings), numpy sorts and groups, Arrow keeps the strings; no per-row Python.
A lookup is a binary search (numpy.searchsorted) on 64-bit hashes followed by an exact
comparison with the stored string, so a hash collision costs a comparison, never a wrong
answer (strhash.py: one hash, vectorised for columns, plain Python for a request).

Positions:
  members   one per record, in the snapshot's order: entity_key, table, cluster number;
            `key_order` sorts them by entity-key hash, `position_of_id` maps entity_id.
  clusters  one per resolved_id, in hash order; `cluster_members[cluster_start[c]:...]`
            are the members of cluster c.
  pairs     one per record x identifier value, in the snapshot's order: type, value,
            member; `pair_order` sorts them by value hash, `member_pairs` by member.
Skipped groups (over max_group_size) are few: a set. The snapshot's DuckDB connection is
closed once built, so a publish may remove old snapshot files while the index serves.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InternalError
from ..normalize.values import ValueNormaliser
from ..publish import reader
from ..schema import GOLDEN, MEMBERSHIP, PAIRS, SKIPPED
from ..sql.quoting import ident, literal
from .strhash import hash_column, hash_one

RUN_COLUMNS = ("run_id", "run_mode", "status", "started_at", "ended_at", "duration_seconds", "entities_processed",
               "identifiers_extracted", "edges_created", "clusters_total", "clusters_impacted", "largest_cluster",
               "groups_skipped", "warnings", "error_message", "rollback_to", "rolled_back_by")
STAGE_COLUMNS = ("stage_name", "started_at", "ended_at", "duration_seconds", "rows_in", "rows_out", "rows_affected")
PUBLISHED = ("SUCCESS", "SUCCESS_WITH_WARNINGS")


def _find(hashes: np.ndarray, text: str) -> range:
    h = np.uint64(hash_one(text))
    return range(int(np.searchsorted(hashes, h, "left")), int(np.searchsorted(hashes, h, "right")))


@dataclass(frozen=True)
class Member:
    entity_key: str
    table_id: str
    cluster: int


class SnapshotIndex:
    """Everything the service answers from, for one snapshot version; immutable once built."""

    def __init__(self, version: str, con, normaliser: ValueNormaliser | None, served_run: dict | None):
        started = time.perf_counter()
        self.version = version
        self.normaliser = normaliser
        self.served_run = served_run
        self._load_members(con)
        self._load_pairs(con)
        self._load_runs(con)
        self._load_golden(con)
        self.build_seconds = time.perf_counter() - started

    # --- building ---------------------------------------------------------------------------

    def _load_members(self, con) -> None:
        # hash() (DuckDB's own, fast) only groups members by cluster inside this build;
        # what requests look up is hashed with strhash, which Python repeats per request.
        mem = con.sql(f"SELECT entity_id, entity_key, resolved_id, table_id, hash(resolved_id) AS hr "
                      f"FROM idr_out.{MEMBERSHIP}").to_arrow_table()
        n = mem.num_rows
        self.member_key = mem.column("entity_key").combine_chunks()
        table = mem.column("table_id").combine_chunks().dictionary_encode()
        self.tables = table.dictionary.to_pylist()
        self.member_table = table.indices.to_numpy(zero_copy_only=False).astype(np.int16)
        eid = mem.column("entity_id").to_numpy()
        # entity_id -> member position by direct addressing (dense ids, with holes after INCR runs).
        self.position_of_id = np.full(int(eid.max()) + 1 if n else 0, -1, dtype=np.int32)
        self.position_of_id[eid] = np.arange(n, dtype=np.int32)
        hk = hash_column(self.member_key)
        self.key_order = np.argsort(hk).astype(np.int32)
        self.key_hash = hk[self.key_order]
        del hk
        # Clusters: members grouped by resolved_id (through its hash), one group per cluster.
        hr = mem.column("hr").to_numpy()
        members = np.argsort(hr).astype(np.int32)
        sorted_hr = hr[members]
        first = np.flatnonzero(np.r_[True, sorted_hr[1:] != sorted_hr[:-1]]) if n else np.zeros(0, np.int64)
        del hr, sorted_hr
        rid = mem.column("resolved_id").combine_chunks()
        group_rid = rid.take(pa.array(members[first]))
        sizes = np.diff(np.r_[first, n])
        group = np.repeat(np.arange(len(first), dtype=np.int32), sizes)
        # Two resolved ids with one hash would share a group: refuse to serve such a snapshot
        # rather than merge two clusters (odds about 10^-6 at 5M clusters).
        if n and not pc.all(pc.equal(rid.take(pa.array(members)), group_rid.take(pa.array(group)))).as_py():
            raise InternalError(f"snapshot {self.version}: two resolved ids share a 64-bit hash; not served")
        del rid
        # Clusters numbered in the order of their lookup hash.
        h = hash_column(group_rid)
        order = np.argsort(h).astype(np.int32)
        self.cluster_hash = h[order]
        self.cluster_rid = group_rid.take(pa.array(order))
        self.cluster_size = sizes[order]
        number = np.empty(len(order), dtype=np.int32)
        number[order] = np.arange(len(order), dtype=np.int32)
        self.member_cluster = np.empty(n, dtype=np.int32)
        self.member_cluster[members] = number[group]
        self.cluster_start = np.r_[0, np.cumsum(self.cluster_size)].astype(np.int64)
        # The groups of `members` laid out in the new cluster order (a gather, not a sort).
        offset_in_group = np.arange(n, dtype=np.int64) - np.repeat(self.cluster_start[:-1], self.cluster_size)
        self.cluster_members = members[np.repeat(first[order], self.cluster_size) + offset_in_group]

    def _load_pairs(self, con) -> None:
        pairs = con.sql(f"SELECT entity_id, identifier_type, identifier_value_norm AS v "
                        f"FROM idr_out.{PAIRS}").to_arrow_table()
        self.pair_value = pairs.column("v").combine_chunks()
        h = hash_column(self.pair_value)
        self.pair_order = np.argsort(h).astype(np.int32)  # pairs by value hash
        self.pair_hash = h[self.pair_order]
        del h
        types = pairs.column("identifier_type").combine_chunks().dictionary_encode()
        self.types = types.dictionary.to_pylist()
        self.pair_type = types.indices.to_numpy(zero_copy_only=False).astype(np.int16)
        self.pair_member = self.position_of_id[pairs.column("entity_id").to_numpy()]
        self.member_pairs = np.argsort(self.pair_member, kind="stable").astype(np.int32)
        self.member_pair_start = np.searchsorted(self.pair_member[self.member_pairs],
                                                 np.arange(len(self.member_key) + 1)).astype(np.int64)
        self.skipped = {(t, v) for t, v in con.execute(
            f"SELECT identifier_type, identifier_value_norm FROM idr_out.{SKIPPED}").fetchall()}

    def _load_runs(self, con) -> None:
        have = {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns "
                                          "WHERE table_schema = 'idr_out' AND table_name = 'run_history'").fetchall()}
        cols = [c for c in RUN_COLUMNS if c in have]
        rows = con.execute(f"SELECT {', '.join(cols)} FROM idr_out.run_history "
                           "ORDER BY started_at DESC, run_id DESC").fetchall()
        self.runs = [dict(zip(cols, r)) for r in rows]
        self.stages: dict[str, list[dict]] = {}
        for r in con.execute(f"SELECT run_id, {', '.join(STAGE_COLUMNS)} FROM idr_out.stage_metrics "
                             "ORDER BY run_id, started_at").fetchall():
            self.stages.setdefault(r[0], []).append(dict(zip(STAGE_COLUMNS, r[1:])))
        done = [r for r in self.runs if r["status"] in PUBLISHED and r["run_mode"] in ("FULL", "INCR", "ROLLBACK")]
        self.last_success = done[0] if done else None

    def _load_golden(self, con) -> None:
        """Golden profiles by resolved id (a hash index, as for entity keys)."""
        self.golden = None
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                            "WHERE table_schema = 'idr_out'").fetchall()}
        if GOLDEN not in tables:
            return
        cols = [r[0] for r in con.execute(f"DESCRIBE idr_out.{GOLDEN}").fetchall()]
        attrs = [c for c in cols if c not in ("resolved_id", "updated_ts", "run_id")]
        if not attrs:
            return
        select = ", ".join(ident(c) for c in ["resolved_id", *attrs])
        golden = con.sql(f"SELECT {select} FROM idr_out.{GOLDEN}").to_arrow_table()
        h = hash_column(golden.column("resolved_id"))
        order = np.argsort(h).astype(np.int32)
        self.golden_hash = h[order]
        self.golden = golden.take(pa.array(order))

    # --- answering ----------------------------------------------------------------------------

    @property
    def records(self) -> int:
        return len(self.member_key)

    def cluster_of(self, resolved_id: str) -> int | None:
        for i in _find(self.cluster_hash, resolved_id):
            if self.cluster_rid[i].as_py() == resolved_id:
                return i
        return None

    def member_of(self, entity_key: str) -> int | None:
        for j in _find(self.key_hash, entity_key):
            pos = int(self.key_order[j])
            if self.member_key[pos].as_py() == entity_key:
                return pos
        return None

    def member(self, pos: int) -> Member:
        return Member(self.member_key[pos].as_py(), self.tables[self.member_table[pos]], int(self.member_cluster[pos]))

    def holders(self, identifier_type: str, value_norm: str) -> np.ndarray:
        """Member positions holding the value (vectorised: a skipped group has many)."""
        try:
            t = self.types.index(identifier_type)
        except ValueError:
            return np.zeros(0, dtype=np.int32)
        found = _find(self.pair_hash, value_norm)
        rows = self.pair_order[found.start:found.stop]
        rows = rows[self.pair_type[rows] == t]
        if len(rows) <= 8:  # the usual few holders: Arrow's take and compare cost more per call
            value = self.pair_value
            return self.pair_member[[r for r in rows.tolist() if value[r].as_py() == value_norm]]
        if len(rows) > 1:
            same = pc.equal(self.pair_value.take(pa.array(rows)), value_norm).to_numpy(zero_copy_only=False)
            rows = rows[same]
        return self.pair_member[rows]

    def is_skipped(self, identifier_type: str, value_norm: str) -> bool:
        return (identifier_type, value_norm) in self.skipped

    def cluster_member_positions(self, c: int, limit: int) -> list[int]:
        start, end = int(self.cluster_start[c]), int(self.cluster_start[c + 1])
        return self.cluster_members[start:min(end, start + limit)].tolist()

    def identifiers_of(self, positions: list[int]) -> list[tuple[str, str, bool]]:
        """(type, value, skipped) held by these members, each once."""
        seen: set[tuple[str, str]] = set()
        for pos in positions:
            for k in self.member_pairs[self.member_pair_start[pos]:self.member_pair_start[pos + 1]].tolist():
                seen.add((self.types[self.pair_type[k]], self.pair_value[k].as_py()))
        return [(t, v, (t, v) in self.skipped) for t, v in sorted(seen)]

    def golden_of(self, resolved_id: str) -> dict | None:
        if self.golden is None:
            return None
        for i in _find(self.golden_hash, resolved_id):
            row = self.golden.slice(i, 1).to_pylist()[0]
            if row.pop("resolved_id") == resolved_id:
                return row
        return None

    def run(self, run_id: str) -> dict | None:
        return next((r for r in self.runs if r["run_id"] == run_id), None)


def warm_up() -> None:
    """Arrow imports pandas (when installed) the first time a comparison becomes a numpy
    array, 0.3 s measured: done when the service starts, not inside the first request whose
    value has many holders (it would hold every request queued behind it)."""
    pc.equal(pa.array(["a", "b"]), "a").to_numpy(zero_copy_only=False)


def served_run(con, version: str) -> dict | None:
    """The run whose configuration produced the snapshot's state: the snapshot's own run,
    or for a rollback the run it restored (followed through rollbacks of rollbacks)."""
    run_id = version
    for _ in range(20):
        row = con.execute("SELECT run_id, run_mode, rollback_to, config_snapshot FROM idr_out.run_history "
                          "WHERE run_id = ?", [run_id]).fetchall()
        if not row:
            return None
        rid, mode, target, config = row[0]
        if mode != "ROLLBACK" or not target:
            return {"run_id": rid, "run_mode": mode, "config_snapshot": config}
        run_id = target
    return None


def build(db) -> SnapshotIndex | None:
    """The index of the snapshot the pointer names now (None when nothing is published)."""
    opened = reader.open_snapshot(db, threads=2)
    if opened is None:
        return None
    version, con = opened
    try:
        # Spill (if DuckDB must) to the system's temporary folder: the working directory may
        # be read-only (the container mounts the data read-only).
        import tempfile

        con.execute(f"SET temp_directory = {literal(tempfile.gettempdir() + '/idr-serve-duckdb')}")
        run = served_run(con, version)
        normaliser = None
        if run and run["config_snapshot"]:
            normaliser = ValueNormaliser.from_snapshot_json(run["config_snapshot"])
        return SnapshotIndex(version, con, normaliser, run)
    finally:
        con.close()
