"""Airflow as a data engineer runs it: the project's services script starts the
api-server, scheduler, dag-processor and triggerer; the DAG is triggered from the CLI and
run by the scheduler (not dag.test()), so the components must agree on their
configuration (shared JWT secret, execution API URL, connections) for any task to run.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
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
