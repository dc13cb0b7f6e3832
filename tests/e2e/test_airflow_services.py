"""Airflow as a data engineer runs it: the project's services script starts the
api-server, scheduler, dag-processor and triggerer; the DAG is triggered from the CLI and
run by the scheduler (not dag.test()), so the components must agree on their
configuration (shared JWT secret, execution API URL, connections) for any task to run.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from support import REPO_ROOT, load_files, query

from caoskol import airflow_cli

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def airflow(env: dict, *args: str) -> str:
    out = subprocess.run(["airflow", *args], env=env, capture_output=True, text=True, timeout=120)
    return out.stdout


def run_state(env: dict, run_id: str) -> str:
    return airflow_cli.run_state(airflow(env, "dags", "list-runs", "caoskol_nightly", "-o", "json"), run_id)


def mark_run_failed(env: dict, run_id: str) -> None:
    """PATCH the run's state to failed through Airflow's REST API, as the UI does."""
    base = f"http://localhost:{env['CAOSKOL_AIRFLOW_PORT']}"
    password = json.loads(Path(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]).read_text())["admin"]
    req = urllib.request.Request(f"{base}/auth/token", method="POST",
                                 data=json.dumps({"username": "admin", "password": password}).encode(),
                                 headers={"Content-Type": "application/json"})
    token = json.load(urllib.request.urlopen(req, timeout=30))["access_token"]
    req = urllib.request.Request(f"{base}/api/v2/dags/caoskol_nightly/dagRuns/{run_id}", method="PATCH",
                                 data=json.dumps({"state": "failed"}).encode(),
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    assert json.load(urllib.request.urlopen(req, timeout=30))["state"] == "failed"


def test_scheduler_runs_the_triggered_dag(pipeline_env, seed_dir, airflow_conn, tmp_path):
    assert load_files(seed_dir / "US_Dataset.csv").returncode == 0
    var = tmp_path / "var"
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith("AIRFLOW__") and k not in ("AIRFLOW_HOME", "AIRFLOW_CONFIG", "CAOSKOL_SECRET_KEY")
    }
    env.update(
        CAOSKOL_VAR=str(var),
        CAOSKOL_AIRFLOW_PORT=str(free_port()),
        CAOSKOL_DATA_DIR=str(pipeline_env["data"]),
        AIRFLOW_CONN_COLEGIO_MYSQL=airflow_conn(pipeline_env["colegio"]),
        AIRFLOW_CONN_REPORTES_MYSQL=airflow_conn(pipeline_env["reportes"]),
        CAOSKOL_TASK_RETRIES="0",
    )
    # The same environment the run command gives every component.
    shell_env = subprocess.run(
        ["bash", "-c", f"source {REPO_ROOT}/scripts/env.sh && env -0"], env=env, capture_output=True, check=True
    ).stdout
    env = dict(line.split("=", 1) for line in shell_env.decode().split("\0") if "=" in line)
    subprocess.run(["airflow", "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    services = [str(REPO_ROOT / "scripts" / "services.sh")]
    subprocess.run(["bash", *services, "start", "airflow"], env=env, check=True, capture_output=True)
    try:
        deadline = time.time() + 180
        while "caoskol_nightly" not in airflow(env, "dags", "list", "-o", "plain"):
            assert time.time() < deadline, (var / "log" / "dag-processor.log").read_text()[-3000:]
            time.sleep(3)
        run_id = "manual__services_test"
        airflow(env, "dags", "trigger", "caoskol_nightly", "--run-id", run_id,
                "--logical-date", "2026-11-30T07:00:00+00:00")
        deadline = time.time() + 900
        state = "none"
        while state not in ("success", "failed") and time.time() < deadline:
            time.sleep(5)
            state = run_state(env, run_id)
        scheduler_log = (var / "log" / "scheduler.log").read_text()
        assert state == "success", scheduler_log[-4000:]
        assert "Invalid auth token" not in scheduler_log
        # A run marked failed through the REST API (what the UI's "mark failed" calls)
        # while it runs: no callback fires, the plugin's listener in the api-server must
        # record it, or the portal shows it "en curso" until the next run.
        marked = "manual__marked_failed"
        airflow(env, "dags", "trigger", "caoskol_nightly", "--run-id", marked,
                "--logical-date", "2026-12-01T07:00:00+00:00")
        deadline = time.time() + 300
        while not query(pipeline_env["reportes"], "SELECT 1 FROM ejecuciones WHERE run_id = :r", r=marked):
            assert time.time() < deadline, "the second run never started"
            time.sleep(2)
        mark_run_failed(env, marked)
        deadline = time.time() + 60
        while True:
            (row,) = query(pipeline_env["reportes"], "SELECT estado, error FROM ejecuciones WHERE run_id = :r", r=marked)
            if row["estado"] == "fallida" or time.time() > deadline:
                break
            time.sleep(1)
        assert row["estado"] == "fallida", (var / "log" / "api-server.log").read_text()[-3000:]
        # (Killing its task may also fire the task's failure callback, whose message may win.)
        assert row["error"] and "reporte anterior sigue vigente" in row["error"], row["error"]
    finally:
        subprocess.run(["bash", *services, "stop", "airflow"], env=env, capture_output=True)
    rep = pipeline_env["reportes"]
    # (The scheduler may also have started the latest nightly run, catchup being off; only
    # the triggered run is waited for and checked here.)
    (run,) = query(rep, "SELECT estado FROM ejecuciones WHERE run_id = :r", r=run_id)
    assert run["estado"] == "exitosa"
    (math,) = query(
        rep, "SELECT n, media FROM estadisticas WHERE run_id = :r AND ambito = 'escuela' AND variable = 'matematicas'",
        r=run_id,
    )
    assert math["n"] == 400 and abs(math["media"] - 60.3775) < 1e-9
