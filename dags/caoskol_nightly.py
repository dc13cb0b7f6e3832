"""
### Caoskol: reporte nocturno de resultados de pruebas

Every night at 02:00 (America/Bogota) this DAG turns the school's results in MySQL
(`colegio.notas`) into the published report the portal shows.

| task | what it does | on failure |
| --- | --- | --- |
| `preflight` | checks java, spark-submit, the Spark apps, the GX suites, the data folder | fails fast naming what is missing |
| `extract` | streams `notas` (+ each row's account role) in chunks to a Parquet snapshot of this run | retries with back-off (MySQL down) |
| `validate_raw` | Great Expectations suite `expectations/raw_suite.json`; NULL rates measured; Data Docs rendered | fails only on critical expectations (empty table, missing columns) |
| `clean` | explicit policy (docs/CLEANING_POLICY.md): bad rows to quarantine with a reason; NULL grade / science kept | |
| `validate_clean` | strict suite `expectations/clean_suite.json` | the run fails, nothing is published |
| `spark_statistics`, `spark_correlations` | PySpark jobs via SparkSubmitOperator; master from the `spark_default` connection | nothing is published; clear the task to re-run it |
| `publish` | one transaction into `caoskol_reportes`, then the current-report pointer moves | the previous report stays current |

Connections: `colegio_mysql` (source), `reportes_mysql` (reporting schema), `spark_default`.
Data: `$CAOSKOL_DATA_DIR/runs/<run id>/`. Re-running a date replaces that date's report.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.sdk import dag, task
from airflow.sdk.exceptions import AirflowFailException

from caoskol import airflow_callbacks, config, spark_submit, steps
from caoskol.errors import PermanentError

RUN_DIR = "{{ run_dir(run_id) }}"


def _no_retry_on_bad_data(fn, *args):
    """Bad data or a missing tool fails the task at once: a retry would only repeat it."""
    try:
        return fn(*args)
    except PermanentError as exc:
        raise AirflowFailException(str(exc)) from exc


@dag(
    dag_id=config.DAG_ID,
    schedule=config.NIGHTLY_CRON,
    start_date=pendulum.datetime(2026, 1, 1, tz=config.SCHOOL_TIMEZONE),
    catchup=False,  # a first deployment must not replay every night since start_date
    max_active_runs=1,
    tags=["caoskol", "reportes", "nocturno"],
    doc_md=__doc__,
    user_defined_macros={"run_dir": steps.run_dir_str},
    dagrun_timeout=timedelta(hours=config.run_timeout_hours()),
    on_failure_callback=airflow_callbacks.on_run_failure,
    default_args={
        "owner": "datos",
        "retries": config.task_retries(),
        "retry_delay": timedelta(seconds=config.retry_delay_seconds()),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
        "on_execute_callback": airflow_callbacks.on_task_start,
        "on_success_callback": airflow_callbacks.on_task_success,
        "on_failure_callback": airflow_callbacks.on_task_failure,
    },
)
def caoskol_nightly():
    @task
    def preflight(run_id=None):
        return _no_retry_on_bad_data(steps.preflight, run_id)

    @task
    def extract(run_id=None, dag_run=None):
        return steps.extract(run_id, steps.report_date(dag_run), steps.Connections.from_airflow())

    @task
    def validate_raw(run_id=None):
        return _no_retry_on_bad_data(steps.validate_raw, run_id)

    @task
    def clean(run_id=None):
        return _no_retry_on_bad_data(steps.clean, run_id)

    @task
    def validate_clean(run_id=None):
        return _no_retry_on_bad_data(steps.validate_clean, run_id)

    @task
    def publish(run_id=None, dag_run=None):
        return steps.publish(run_id, steps.report_date(dag_run), steps.Connections.from_airflow())

    spark_tasks = [
        SparkSubmitOperator(
            task_id=task_id,
            application=spark_submit.application_path(task_id),
            application_args=spark_submit.application_args(RUN_DIR),
            py_files=f"{RUN_DIR}/caoskol.zip",
            conn_id=config.SPARK_CONN_ID,
            conf=spark_submit.spark_conf(),
            driver_memory=spark_submit.driver_memory(),
            env_vars=spark_submit.spark_env(),
            name=f"caoskol-{task_id}",
        )
        for task_id in spark_submit.SPARK_JOBS
    ]

    preflight() >> extract() >> validate_raw() >> clean() >> validate_clean() >> spark_tasks >> publish()


caoskol_nightly()
