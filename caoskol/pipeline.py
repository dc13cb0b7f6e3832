"""Run the whole pipeline without Airflow: the same steps, spark-submit as a subprocess.

Used by tests that need a published report (the portal's), and by benchmarks to compare
against the DAG. The DAG itself is the product; this is not a second implementation of it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from caoskol import config, runs, spark_submit, steps


class SparkJobFailed(RuntimeError):
    pass


def spark_submit_command(task_id: str, run_id: str, master: str) -> list[str]:
    run_dir = config.run_dir(run_id)
    binary = shutil.which("spark-submit") or "spark-submit"
    cmd = [binary, "--master", master, "--name", f"caoskol-{task_id}"]
    for key, value in spark_submit.spark_conf().items():
        cmd += ["--conf", f"{key}={value}"]
    cmd += ["--driver-memory", spark_submit.driver_memory(), "--py-files", str(run_dir / "caoskol.zip")]
    return cmd + [spark_submit.application_path(task_id), *spark_submit.application_args(run_dir)]


def run_spark_job(task_id: str, run_id: str, master: str = "local[*]") -> None:
    env = {**os.environ, **spark_submit.spark_env()}
    proc = subprocess.run(spark_submit_command(task_id, run_id, master), env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SparkJobFailed(f"{task_id} terminó con código {proc.returncode}:\n{proc.stderr[-4000:]}")


def run_local(
    run_id: str,
    logical_date: datetime | None = None,
    conns: steps.Connections | None = None,
    master: str = "local[*]",
) -> dict[str, Any]:
    """Run every step in the DAG's order; raise on the first failure (nothing published)."""
    logical_date = logical_date or datetime.now(timezone.utc)
    conns = conns or steps.Connections.from_urls()
    run_dir = config.run_dir(run_id)
    plan = [
        ("preflight", lambda: steps.preflight(run_id)),
        ("extract", lambda: steps.extract(run_id, logical_date, conns)),
        ("validate_raw", lambda: steps.validate_raw(run_id)),
        ("clean", lambda: steps.clean(run_id)),
        ("validate_clean", lambda: steps.validate_clean(run_id)),
        *((t, (lambda t=t: run_spark_job(t, run_id, master))) for t in spark_submit.SPARK_JOBS),
        ("publish", lambda: steps.publish(run_id, logical_date, conns)),
    ]
    result: dict[str, Any] = {}
    for task_id, fn in plan:
        started = time.time()
        runs.record_task_start(run_dir, task_id)
        try:
            result[task_id] = fn()
        except Exception as exc:
            steps.mark_failed(run_id, logical_date, f"{task_id}: {exc}", conns)
            raise
        runs.record_task_end(run_dir, task_id)
        result.setdefault("seconds", {})[task_id] = round(time.time() - started, 3)
    return result


