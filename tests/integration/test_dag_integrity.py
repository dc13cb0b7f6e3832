"""DAG integrity, as the DAG processor sees the files in dags/."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest
from support import REPO_ROOT

from caoskol import config

HEAVY = ("pandas", "pyspark", "great_expectations", "pyarrow", "numpy")


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO_ROOT / "dags"))


def test_every_dag_imports_without_errors(dagbag):
    assert not dagbag.import_errors
    assert config.DAG_ID in dagbag.dag_ids


def test_nightly_dag_schedule_and_safety_settings(dagbag):
    dag = dagbag.dags[config.DAG_ID]
    assert dag.tags and "caoskol" in dag.tags
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert str(dag.timezone.name) == "America/Bogota"
    assert dag.doc_md and "validate_clean" in dag.doc_md
    assert dag.timetable.expression == "0 2 * * *"
    assert str(dag.timetable.timezone.name) == "America/Bogota"
    for task in dag.tasks:
        assert task.retries >= 1, task.task_id
        assert task.retry_exponential_backoff, task.task_id
        assert task.retry_delay >= timedelta(seconds=1)
        assert task.on_failure_callback, task.task_id


def test_tasks_run_in_the_designed_order(dagbag):
    dag = dagbag.dags[config.DAG_ID]
    order = ["preflight", "extract", "validate_raw", "clean", "validate_clean"]
    for up, down in zip(order, order[1:]):
        assert dag.get_task(down).upstream_task_ids == {up}
    spark = {"spark_statistics", "spark_correlations"}
    for t in spark:
        assert dag.get_task(t).upstream_task_ids == {"validate_clean"}
        assert type(dag.get_task(t)).__name__ == "SparkSubmitOperator"
        assert dag.get_task(t)._conn_id == config.SPARK_CONN_ID
    assert dag.get_task("publish").upstream_task_ids == spark


def test_dag_file_imports_nothing_heavy():
    """The DAG processor parses the file every cycle: only Airflow and light modules."""
    code = f"""
import sys, time, importlib.util
import airflow.sdk, airflow.providers.apache.spark.operators.spark_submit, pendulum  # paid once per processor
before = set(sys.modules)
t = time.perf_counter()
spec = importlib.util.spec_from_file_location("nightly", {str(REPO_ROOT / 'dags' / 'caoskol_nightly.py')!r})
mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
elapsed = time.perf_counter() - t
heavy = sorted(m for m in set(sys.modules) - before if m.split('.')[0] in {HEAVY!r})
print(elapsed, heavy)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    elapsed, heavy = out.strip().splitlines()[-1].split(" ", 1)
    # Speed itself is measured by bench/, not asserted here; heavy imports are what make
    # a DAG file slow to parse, and they are a fact that can be checked exactly.
    assert heavy == "[]", heavy


def test_a_run_that_fails_without_a_task_saying_why_is_recorded(dagbag):
    # Timed out by the scheduler (dagrun_timeout) or marked failed: the run callback
    # closes its 'ejecuciones' row (tests/integration/test_run_records.py shows it does).
    from caoskol import airflow_callbacks

    dag = dagbag.dags[config.DAG_ID]
    callbacks = dag.on_failure_callback if isinstance(dag.on_failure_callback, list) else [dag.on_failure_callback]
    assert airflow_callbacks.on_run_failure in callbacks
    assert dag.dagrun_timeout == timedelta(hours=config.run_timeout_hours())
