"""idr on a real Spark cluster: a standalone master and two one-core workers on 127.0.0.1,
started from the pip-installed pyspark alone (its bin/spark-class; the wheel has no
sbin/start-master.sh), and one driver process (cluster_driver.py) that runs `idr config
load --engine spark`, FULL and INCR through it; the partition equals a DuckDB FULL run on
the same data. Then a worker is killed while a FULL run computes its components: the run
either completes with the right answer or fails cleanly (FAILED in run_history, exit 1)
with the previous snapshot still published. Tiny data: the cost is the JVMs' start and
Spark's per-job overhead (measured in docs/spark.md)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

import idr
from idr_testing import need, partition, query

pytestmark = pytest.mark.spark
HERE = Path(__file__).resolve().parent
MEMBERSHIP = "SELECT entity_key, resolved_id FROM idr_out.identity_resolved_membership_current"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spark_home() -> Path:
    try:
        import pyspark
    except ImportError:
        need("standalone cluster: PySpark is not installed (pip install -e '.[spark]')")
    from idr.backends.spark import spark_problem
    from idr.settings import Settings

    problem = spark_problem(Settings(engine="spark", spark_master="local[1]"))
    if problem:
        need(f"standalone cluster: {problem}")
    home = Path(pyspark.__file__).parent
    if not (home / "bin" / "spark-class").is_file():
        need(f"standalone cluster: {home}/bin/spark-class is missing (this pyspark package cannot start one)")
    return home


class Cluster:
    """Master and workers as process groups of their own, stopped by their ids."""

    def __init__(self, work: Path):
        self.home, self.work = _spark_home(), work
        self.port = _free_port()
        self.master = f"spark://127.0.0.1:{self.port}"
        self.env = {**os.environ, "SPARK_HOME": str(self.home), "SPARK_LOCAL_IP": "127.0.0.1",
                    "PYSPARK_PYTHON": sys.executable, "SPARK_DAEMON_MEMORY": "256m"}
        self.procs: dict[str, subprocess.Popen] = {}

    def _start(self, name: str, *argv: str) -> None:
        log = open(self.work / f"{name}.log", "w")
        self.procs[name] = subprocess.Popen([str(self.home / "bin" / "spark-class"), *argv], env=self.env,
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def start(self, workers: int = 2, timeout: float = 120) -> None:
        self._start("master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                    "--port", str(self.port), "--webui-port", str(_free_port()))
        for i in range(1, workers + 1):
            self._start(f"worker{i}", "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
                        "--cores", "1", "--memory", "768m", "--webui-port", str(_free_port()),
                        "--work-dir", str(self.work / f"worker{i}"), self.master)
        deadline = time.monotonic() + timeout
        while (self.work / "master.log").read_text().count("Registering worker") < workers:
            if time.monotonic() > deadline or self.procs["master"].poll() is not None:
                need(f"standalone cluster: {workers} workers did not register within {timeout:g} s "
                     f"(logs in {self.work})")
            time.sleep(0.3)

    def kill(self, name: str) -> None:
        """SIGKILL a worker's process group: the worker and the executor it launched."""
        proc = self.procs[name]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


class Driver:
    """cluster_driver.py: one Spark session on the cluster, idr commands one per line."""

    def __init__(self, cluster: Cluster, env: dict):
        self.proc = subprocess.Popen([sys.executable, str(HERE / "cluster_driver.py"), cluster.master],
                                     env={**cluster.env, **env}, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, bufsize=1, start_new_session=True)
        self.log: list[str] = []
        self.read_until("READY")

    def read_until(self, prefix: str, on_line=None) -> str:
        for line in self.proc.stdout:
            self.log.append(line)
            if on_line is not None:
                on_line(line)
            if line.startswith(prefix):
                return line
        raise AssertionError("the driver stopped:\n" + "".join(self.log[-40:]))

    def idr(self, *argv: str, on_line=None) -> int:
        import shlex

        self.proc.stdin.write(shlex.join(argv) + "\n")
        self.proc.stdin.flush()
        return int(self.read_until("EXIT ", on_line).split()[1])

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def _records(first: int, n: int, day: int) -> pa.Table:
    import datetime as dt

    ts = dt.datetime(2026, 1, day)
    return pa.table({"id": [f"c{i}" for i in range(first, first + n)],
                     "email": [f"p{(i * 7) % (n // 3 + 1)}@example.org" for i in range(first, first + n)],
                     "phone": [f"+1 415 555 {i % 13:04d}" if i % 4 == 0 else None for i in range(first, first + n)],
                     "ts": [ts] * n})


def _duckdb_partition(db: Path, work: Path) -> set:
    copy = work / "check.duckdb"
    shutil.copy(db, copy)
    assert idr.run(str(copy), "FULL", engine="duckdb").status == "SUCCESS"
    return partition(copy)


def test_standalone_cluster_full_incr_and_a_lost_worker(tmp_path):
    started = time.perf_counter()
    cluster = Cluster(tmp_path)
    driver = None
    try:
        cluster.start()
        (tmp_path / "crm").mkdir()
        pq.write_table(_records(0, 60, 1), tmp_path / "crm" / "part-0.parquet")
        (tmp_path / "idr.yaml").write_text(yaml.safe_dump({
            "sources": [{"table_id": "crm", "table_fqn": str(tmp_path / "crm" / "*.parquet"),
                         "entity_key_expr": "id", "watermark_column": "ts",
                         "identifiers": [{"identifier_type": "EMAIL", "identifier_value_expr": "email"},
                                         {"identifier_type": "PHONE", "identifier_value_expr": "phone"}]}],
            "rules": [{"rule_id": "email", "identifier_type": "EMAIL", "canonicalize": "EMAIL"},
                      {"rule_id": "phone", "identifier_type": "PHONE", "canonicalize": "PHONE"}]}))
        db = tmp_path / "idr.duckdb"
        driver = Driver(cluster, {"IDR_ENGINE": "spark", "IDR_SPARK_MASTER": cluster.master})
        assert driver.idr("--db", str(db), "init") == 0
        assert driver.idr("--db", str(db), "config", "load", str(tmp_path / "idr.yaml")) == 0  # validated on Spark
        assert driver.idr("--db", str(db), "run", "--run-mode", "FULL", "--quiet") == 0
        assert partition(db) == _duckdb_partition(db, tmp_path)

        # New and changed records arrive as a second file: INCR reads them, and equals FULL.
        pq.write_table(pa.concat_tables([_records(55, 10, 2), _records(0, 1, 2)]), tmp_path / "crm" / "part-1.parquet")
        assert driver.idr("--db", str(db), "run", "--run-mode", "INCR", "--no-auto-full", "--quiet") == 0
        incr = idr.open_results(str(db))
        mode = incr.execute("SELECT run_mode FROM idr_out.run_history ORDER BY started_at DESC LIMIT 1").fetchall()
        before = sorted(incr.execute(MEMBERSHIP).fetchall())
        incr.close()
        assert mode == [("INCR",)]
        expected = _duckdb_partition(db, tmp_path)
        assert partition(db) == expected

        # A worker (and its executor) killed while the components are computed.
        def kill_at_components(line: str) -> None:
            if line.startswith("idr: edges") and cluster.procs["worker2"].poll() is None:
                cluster.kill("worker2")

        code = driver.idr("--db", str(db), "run", "--run-mode", "FULL", on_line=kill_at_components)  # progress lines
        assert cluster.procs["worker2"].poll() is not None, "the run ended before the worker was killed"
        last = query(db, "SELECT status, error_message FROM idr_out.run_history ORDER BY started_at DESC LIMIT 1")
        with idr.open_results(str(db)) as con:  # what readers see
            after = sorted(con.execute(MEMBERSHIP).fetchall())
        if code == 0:
            assert partition(db) == expected  # completed on the surviving worker, same answer
        else:
            assert code == 1, "".join(driver.log[-20:])
            assert last[0][0] == "FAILED" and "SparkJobFailed" in last[0][1], last
            assert after == before  # the previous snapshot stays published
        print(f"lost worker: exit {code}, {last[0]}; test wall {time.perf_counter() - started:.1f} s")
    finally:
        if driver is not None:
            driver.close()
        cluster.stop()
