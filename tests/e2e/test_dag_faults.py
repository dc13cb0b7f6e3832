"""The nightly DAG under faults: each run fails clearly and the previous report stays.

The "previous report" is laid down directly in the reporting tables (a run row, one
statistic and the pointer): the point is what the failing run does to it, which is nothing.
"""

from __future__ import annotations

import shutil
import textwrap
from datetime import datetime, timezone

import pytest
from sqlalchemy import text
from support import REPO_ROOT, load_files, query, run_dag

from caoskol import db

pytestmark = pytest.mark.e2e

PREVIOUS = "scheduled__2026-11-29T07:00:00+00:00"
LOGICAL_DATE = datetime(2026, 11, 30, 7, 0, tzinfo=timezone.utc)


def lay_previous_report(reportes_url: str) -> None:
    eng = db.engine(reportes_url)
    with eng.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO ejecuciones (run_id, fecha_logica, inicio, fin, estado, filas_leidas) "
                "VALUES (:r, '2026-11-29 07:00:00', '2026-11-29 07:00:01', '2026-11-29 07:02:00', 'exitosa', 400)"
            ),
            {"r": PREVIOUS},
        )
        conn.execute(
            text(
                "INSERT INTO estadisticas (run_id, ambito, grado, variable, n, media) "
                "VALUES (:r, 'escuela', NULL, 'matematicas', 400, 60.3775)"
            ),
            {"r": PREVIOUS},
        )
        conn.execute(text("INSERT INTO reporte_actual (id, run_id) VALUES (1, :r)"), {"r": PREVIOUS})
    eng.dispose()


def assert_previous_report_untouched(rep: str, failed_run_id: str, reason: str) -> None:
    assert query(rep, "SELECT run_id FROM reporte_actual") == [{"run_id": PREVIOUS}]
    assert query(rep, "SELECT run_id, n, media FROM estadisticas") == [
        {"run_id": PREVIOUS, "n": 400, "media": 60.3775}
    ]
    (failed,) = query(rep, "SELECT estado, error FROM ejecuciones WHERE run_id = :r", r=failed_run_id)
    assert failed["estado"] == "fallida"
    assert reason in failed["error"], failed["error"]
    assert "el reporte anterior sigue vigente" in failed["error"]


def task_states(dagrun) -> dict[str, str]:
    return {ti.task_id: str(ti.state).split(".")[-1].lower() for ti in dagrun.get_task_instances()}


def test_empty_source_table_fails_at_validation(pipeline_env):
    lay_previous_report(pipeline_env["reportes"])
    dagrun = run_dag(LOGICAL_DATE)
    assert "failed" in str(dagrun.state).lower()
    states = task_states(dagrun)
    assert states["extract"] == "success" and states["validate_raw"] == "failed"
    assert states["publish"] in ("upstream_failed", "none")
    assert_previous_report_untouched(pipeline_env["reportes"], dagrun.run_id, "vacía")
    (failed,) = query(pipeline_env["reportes"], "SELECT filas_leidas FROM ejecuciones WHERE run_id = :r", r=dagrun.run_id)
    assert failed["filas_leidas"] == 0


def test_killed_spark_job_publishes_nothing_and_a_rerun_succeeds(pipeline_env, seed_dir, tmp_path, monkeypatch):
    assert load_files(seed_dir / "US_Dataset.csv").returncode == 0
    lay_previous_report(pipeline_env["reportes"])
    # A copy of the Spark apps in which the statistics job is killed (SIGKILL) mid-run.
    apps = tmp_path / "apps"
    shutil.copytree(REPO_ROOT / "spark_apps", apps)
    (apps / "caoskol_statistics.py").write_text(
        textwrap.dedent(
            """
            import os, signal
            from pyspark.sql import SparkSession
            SparkSession.builder.getOrCreate().range(10).count()
            os.kill(os.getpid(), signal.SIGKILL)
            """
        )
    )
    monkeypatch.setenv("CAOSKOL_SPARK_APPS_DIR", str(apps))
    failed = run_dag(LOGICAL_DATE)
    assert "failed" in str(failed.state).lower()
    states = task_states(failed)
    assert states["spark_statistics"] == "failed" and states["publish"] == "upstream_failed"
    assert_previous_report_untouched(pipeline_env["reportes"], failed.run_id, "spark_statistics")

    monkeypatch.setenv("CAOSKOL_SPARK_APPS_DIR", str(REPO_ROOT / "spark_apps"))
    rerun = run_dag(LOGICAL_DATE)
    assert "success" in str(rerun.state).lower()
    rep = pipeline_env["reportes"]
    assert query(rep, "SELECT run_id FROM reporte_actual") == [{"run_id": rerun.run_id}]
    (math,) = query(
        rep, "SELECT n, media FROM estadisticas WHERE run_id = :r AND ambito = 'escuela' AND variable = 'matematicas'",
        r=rerun.run_id,
    )
    assert math["n"] == 400 and abs(math["media"] - 60.3775) < 1e-9


def test_mysql_unreachable_retries_then_fails(pipeline_env, monkeypatch):
    lay_previous_report(pipeline_env["reportes"])
    # Nothing listens on port 1: the source is down for the whole run.
    monkeypatch.setenv("AIRFLOW_CONN_COLEGIO_MYSQL", "mysql://root@127.0.0.1:1/colegio")
    monkeypatch.setenv("CAOSKOL_TASK_RETRIES", "1")
    monkeypatch.setenv("CAOSKOL_RETRY_DELAY_SECONDS", "1")
    dagrun = run_dag(LOGICAL_DATE)
    assert "failed" in str(dagrun.state).lower()
    (extract,) = [ti for ti in dagrun.get_task_instances() if ti.task_id == "extract"]
    assert extract.try_number == 2  # the first try and one retry
    assert_previous_report_untouched(pipeline_env["reportes"], dagrun.run_id, "extract")


def test_missing_spark_submit_fails_at_preflight_naming_it(pipeline_env, monkeypatch):
    lay_previous_report(pipeline_env["reportes"])
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # the venv's bin (spark-submit) is gone
    dagrun = run_dag(LOGICAL_DATE)
    assert "failed" in str(dagrun.state).lower()
    states = task_states(dagrun)
    assert states["preflight"] == "failed" and states["extract"] == "upstream_failed"
    assert_previous_report_untouched(pipeline_env["reportes"], dagrun.run_id, "spark-submit")
