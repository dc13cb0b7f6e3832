"""Fixtures to run the real nightly DAG with dag.test() against fresh databases."""

from __future__ import annotations

import pytest


@pytest.fixture()
def pipeline_env(mysql_urls, tmp_path, monkeypatch, airflow_conn, airflow_db):
    """Fresh source and reporting databases wired to Airflow's connections, a fresh data dir."""
    colegio, reportes = mysql_urls
    monkeypatch.setenv("AIRFLOW_CONN_COLEGIO_MYSQL", airflow_conn(colegio))
    monkeypatch.setenv("AIRFLOW_CONN_REPORTES_MYSQL", airflow_conn(reportes))
    monkeypatch.setenv("CAOSKOL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CAOSKOL_PASSWORD_HASH_METHOD", "pbkdf2:sha256:1000")
    monkeypatch.setenv("CAOSKOL_TASK_RETRIES", "0")
    return {"colegio": colegio, "reportes": reportes, "data": tmp_path / "data"}
