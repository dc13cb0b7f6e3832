"""The same DAG against a Spark standalone cluster: only the spark_default connection changes.

A master and a worker are started on localhost from the installed pyspark (spark-class),
the DAG runs unchanged, and the master's own record shows the two jobs ran on it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import pytest
from support import load_files, query, run_dag

pytestmark = pytest.mark.e2e

SPARK_CLASS = Path(sys.executable).parent / "spark-class"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def master_state(ui_port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=5) as resp:
        return json.load(resp)


@pytest.fixture()
def spark_cluster(tmp_path):
    port, ui, worker_ui = free_port(), free_port(), free_port()
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_LOG_DIR": str(tmp_path), "SPARK_WORKER_DIR": str(tmp_path / "work")}
    logs = [open(tmp_path / "master.log", "w"), open(tmp_path / "worker.log", "w")]
    master = subprocess.Popen(
        [str(SPARK_CLASS), "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port), "--webui-port", str(ui)],
        env=env, stdout=logs[0], stderr=subprocess.STDOUT,
    )
    worker = subprocess.Popen(
        [str(SPARK_CLASS), "org.apache.spark.deploy.worker.Worker", f"spark://127.0.0.1:{port}",
         "--cores", "2", "--memory", "2g", "--webui-port", str(worker_ui), "--host", "127.0.0.1"],
        env=env, stdout=logs[1], stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if master_state(ui).get("aliveworkers", 0) >= 1:
                    break
            except OSError:
                pass
            time.sleep(1)
        else:
            pytest.fail("the standalone worker did not register: " + (tmp_path / "worker.log").read_text()[-2000:])
        yield {"port": port, "ui": ui}
    finally:
        for proc in (worker, master):
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        for f in logs:
            f.close()


def test_dag_runs_unchanged_on_a_standalone_cluster(pipeline_env, seed_dir, spark_cluster, monkeypatch):
    assert load_files(seed_dir / "US_Dataset.csv").returncode == 0
    monkeypatch.setenv(
        "AIRFLOW_CONN_SPARK_DEFAULT",
        json.dumps({"conn_type": "spark", "host": "spark://127.0.0.1", "port": spark_cluster["port"]}),
    )
    dagrun = run_dag(datetime(2026, 11, 30, 7, 0, tzinfo=timezone.utc))
    assert "success" in str(dagrun.state).lower(), dagrun.state

    apps = {a["name"] for a in master_state(spark_cluster["ui"])["completedapps"]}
    # The apps name their sessions (caoskol.spark.app); the master lists them as completed.
    assert {"caoskol-statistics", "caoskol-correlations"} <= apps, apps

    rep = pipeline_env["reportes"]
    (math,) = query(rep, "SELECT n, media FROM estadisticas WHERE ambito = 'escuela' AND variable = 'matematicas'")
    assert math["n"] == 400 and abs(math["media"] - 60.3775) < 1e-9
    (sci,) = query(rep, "SELECT n, media FROM estadisticas WHERE ambito = 'escuela' AND variable = 'ciencias'")
    assert sci["n"] == 400 and sci["media"] is not None
