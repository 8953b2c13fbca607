"""The driver of the standalone-cluster test (test_spark_cluster.py), a process of its own:
one Spark session on the cluster's master for every command it is given (a JVM start is
seconds; the test process already holds a local[2] session, and a process has one).

    python cluster_driver.py spark://127.0.0.1:PORT

Reads one `idr` command line per line on standard input (shell quoting), runs it with the
real entry point (idr.cli.main) and prints `EXIT <code>`; the commands' own output (stage
progress included) goes to standard output too, line by line, so the test can act mid-run.
"""

import shlex
import sys


def main(master: str) -> int:
    from pyspark.sql import SparkSession

    # Tiny data on two one-core executors: a few shuffle partitions, no code generation
    # (compiling costs more than the work), as the local[2] test session.
    SparkSession.builder.appName("idr-cluster-test").master(master) \
        .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2") \
        .config("spark.sql.codegen.wholeStage", "false").config("spark.executor.memory", "512m") \
        .getOrCreate().sparkContext.setLogLevel("ERROR")
    sys.stderr = sys.stdout  # one stream, in order
    from idr.cli import main as idr

    print("READY", flush=True)
    for line in sys.stdin:
        code = idr(shlex.split(line))
        print(f"EXIT {code}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
