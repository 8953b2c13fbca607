"""Airflow DAG running idr hourly (docs/scheduling.md). Copy into the DAGs folder and
adjust IDR and DB. Needs Airflow 2.4+ (the `schedule` argument; BashOperator's
`skip_on_exit_code` from 2.6)."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow import DAG
from airflow.operators.bash import BashOperator

IDR = "/opt/idr/venv/bin/idr"
DB = "/srv/idr/customers.duckdb"

with DAG(
    dag_id="idr_identity_resolution",
    schedule="7 * * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,  # an INCR run reads everything since the last one: no backfill needed
    max_active_runs=1,  # one run per database; idr refuses a second one anyway
    default_args={
        # idr retries transient errors itself (lock, source I/O, exporters); exit 1 and 2
        # need a person (docs/runbook.md), so Airflow does not retry.
        "retries": 0,
        "owner": "data-platform",
    },
    tags=["idr"],
) as dag:
    run = BashOperator(
        task_id="idr_run_incr",
        # --wait: a backup or a previous run still holding the database is waited for.
        bash_command=f"{IDR} run --db {DB} --run-mode INCR --wait 900 --quiet",
        env={"IDR_LOG_FORMAT": "json"},
        append_env=True,
        # Longer than the longest run plus the wait; Airflow then sends SIGTERM and idr
        # records the run INTERRUPTED (nothing published).
        execution_timeout=timedelta(hours=2),
        # Exit codes: 0 published (also with warnings), 1 run failed, 2 bad input or the
        # database still busy, 3 held by the anomaly gate: all but 0 fail the task.
    )
    doctor = BashOperator(
        task_id="idr_doctor",
        # After the run: 0 ready, 1 warnings (skipped, shown amber), 2 failures (task fails).
        bash_command=f"{IDR} doctor --db {DB} --wait 600",
        skip_on_exit_code=1,
        trigger_rule="all_done",
    )
    run >> doctor
