"""The peer on Spark: Splink 5's Spark backend, deterministic link + its clustering, timed
as one process (issue 15 item 4). Same input rows as peer_splink.py (normalised in DuckDB
with reference.py's SQL, groups over max_group_size dropped), handed to Spark as Parquet;
Splink links and clusters in Spark; the membership is written as Parquet to OUT/membership:

    benchmarks/.venv-splink-spark/bin/python benchmarks/peer_splink_spark.py SOURCES.duckdb OUT \
        [--master local[2]] [--driver-memory 4g] [--shuffle-partitions 8]

It runs in its own virtual environment (setup_peers.sh --spark: Splink 5.0.0 and pyspark
from the registry), never in idr's. Session start-up is timed and printed on its own.
"""

import argparse
import sys
import time
from pathlib import Path

t0 = time.perf_counter()
import duckdb  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peer_splink import COLUMNS, peer_input_sql  # noqa: E402


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("sources")
    ap.add_argument("out", type=Path)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--driver-memory", default="4g")
    ap.add_argument("--shuffle-partitions", type=int, default=8)
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    con.execute(f"ATTACH '{Path(args.sources).as_posix()}' AS src (READ_ONLY)")
    con.execute(peer_input_sql("src"))
    con.execute(f"COPY peer_input TO '{(args.out / 'peer_input.parquet').as_posix()}' (FORMAT parquet)")
    con.close()
    t_input = time.perf_counter()

    from pyspark.sql import SparkSession

    spark = SparkSession.builder.appName("splink-peer").master(args.master) \
        .config("spark.driver.memory", args.driver_memory).config("spark.ui.enabled", "false") \
        .config("spark.sql.shuffle.partitions", str(args.shuffle_partitions)) \
        .config("spark.sql.session.timeZone", "UTC").config("spark.ui.showConsoleProgress", "false").getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    spark.sparkContext.setCheckpointDir(str(args.out / "checkpoints"))
    t_session = time.perf_counter()

    from splink import Linker, SettingsCreator, SparkAPI, block_on

    df = spark.read.parquet(str(args.out / "peer_input.parquet"))
    db_api = SparkAPI(spark_session=spark, register_udfs_automatically=False,
                      num_partitions_on_repartition=args.shuffle_partitions)
    settings = SettingsCreator(
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=[block_on(c) for c in COLUMNS.values()],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    linker = Linker(db_api.register(df), settings, log_level=None)
    pairs = linker.inference.deterministic_link()
    n_pairs = pairs.as_spark_dataframe().count()  # Spark is lazy: the link happens here
    t_link = time.perf_counter()
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(pairs)
    clusters.as_spark_dataframe().selectExpr("unique_id AS entity_key", "cluster_id AS resolved_id") \
        .write.mode("overwrite").parquet(str(args.out / "membership"))
    t_end = time.perf_counter()
    spark.stop()
    print(f"splink-spark: {t_end - t0:.2f} s (input {t_input - t0:.2f}, session start {t_session - t_input:.2f}, "
          f"link {t_link - t_session:.2f} [{n_pairs:,} pairs], cluster+write {t_end - t_link:.2f})")


if __name__ == "__main__":
    main()
