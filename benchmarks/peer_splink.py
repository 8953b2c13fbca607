"""The peer: Splink 5 in deterministic mode on DuckDB, timed as one process.

What a user who picked Splink instead of idr would run on the benchmark data: normalise
the identifiers in SQL (the same rules as reference.py: lower/trim emails, NANP phones,
placeholders and the exclusion dropped), drop values whose group is larger than the
benchmark configuration's max_group_size (Splink has no group guard; without this a junk
phone shared by thousands of records becomes millions of pairs), one row per record,
then Splink's deterministic link (one blocking rule per identifier type) and its
connected-components clustering, written as a membership table into OUT:

    benchmarks/.venv-splink/bin/python benchmarks/peer_splink.py SOURCES.duckdb OUT.duckdb

It runs in Splink's own virtual environment (benchmarks/setup_peers.sh), never in
idr's. On the same rules its partition equals reference.py's; bench.py --peers compares it
with idr's.
"""

import sys
import time
from pathlib import Path

t0 = time.perf_counter()
import duckdb  # noqa: E402
from splink import DuckDBAPI, Linker, SettingsCreator, block_on  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import SOURCES  # noqa: E402
from reference import MAX_GROUP_SIZE, canonical_sql  # noqa: E402

COLUMNS = {"EMAIL": "email", "PHONE": "phone", "LOYALTY_ID": "loyalty_id"}


def peer_input_sql(schema: str) -> str:
    """CREATE TEMP TABLE peer_input: one row per record, its normalised identifiers as
    columns, values of groups over max_group_size dropped (what Splink is given; the Spark
    variant, peer_splink_spark.py, is given the same rows)."""
    caps = " ".join(f"WHEN '{t}' THEN {n}" for t, n in MAX_GROUP_SIZE.items())
    keys = " UNION ALL ".join(f"SELECT concat('{s[0]}:', {s[2]}) AS unique_id FROM {schema}.{s[1]}"
                              for s in SOURCES)
    pivot = ", ".join(f"max(v) FILTER (WHERE itype = '{t}') AS {c}" for t, c in COLUMNS.items())
    return f"""
CREATE TEMP TABLE peer_input AS
WITH ids AS ({canonical_sql(schema)}),
kept AS (
  SELECT entity_key, itype, v FROM ids
  QUALIFY count(*) OVER (PARTITION BY itype, v) <= CASE itype {caps} END
)
SELECT k.unique_id, {pivot}
FROM ({keys}) k LEFT JOIN kept ON kept.entity_key = k.unique_id
GROUP BY k.unique_id"""


def main(src: str, out: str) -> None:
    Path(out).unlink(missing_ok=True)
    con = duckdb.connect(out)
    con.execute("SET preserve_insertion_order = false")
    con.execute(f"ATTACH '{Path(src).as_posix()}' AS src (READ_ONLY)")
    con.execute(peer_input_sql("src"))
    t_input = time.perf_counter()
    db_api = DuckDBAPI(connection=con)
    df = db_api.register("peer_input")
    settings = SettingsCreator(
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=[block_on(c) for c in COLUMNS.values()],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    linker = Linker(df, settings, log_level=None)
    pairs = linker.inference.deterministic_link()
    t_link = time.perf_counter()
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(pairs)
    t_cluster = time.perf_counter()
    con.execute("CREATE TABLE membership AS SELECT unique_id AS entity_key, cluster_id AS resolved_id "
                f"FROM {clusters.physical_name}")
    n_pairs = con.execute(f"SELECT count(*) FROM {pairs.physical_name}").fetchall()[0][0]
    con.close()
    t_end = time.perf_counter()
    print(f"splink: {t_end - t0:.2f} s (input {t_input - t0:.2f}, link {t_link - t_input:.2f} "
          f"[{n_pairs:,} pairs], cluster {t_cluster - t_link:.2f}, write {t_end - t_cluster:.2f})")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
