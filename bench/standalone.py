"""A Spark standalone cluster on localhost (a master and N workers), for the benchmark.

Started from the installed pyspark with ``spark-class`` exactly as
tests/e2e/test_dag_spark_cluster.py does, so the same DAG can be pointed at it by changing
only the ``spark_default`` connection.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

SPARK_CLASS = Path(sys.executable).parent / "spark-class"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def master_state(ui_port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=5) as resp:
        return json.load(resp)


@contextlib.contextmanager
def cluster(workdir: Path, workers: int = 2, cores: int = 1, memory: str = "2g"):
    """Yield ``{"port", "ui", "connection"}`` once every worker has registered."""
    workdir.mkdir(parents=True, exist_ok=True)
    port, ui = free_port(), free_port()
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_LOG_DIR": str(workdir),
           "SPARK_WORKER_DIR": str(workdir / "work")}
    procs, logs = [], []
    try:
        logs.append(open(workdir / "master.log", "w"))
        procs.append(subprocess.Popen(
            [str(SPARK_CLASS), "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
             "--port", str(port), "--webui-port", str(ui)],
            env=env, stdout=logs[-1], stderr=subprocess.STDOUT))
        for i in range(workers):
            logs.append(open(workdir / f"worker{i}.log", "w"))
            procs.append(subprocess.Popen(
                [str(SPARK_CLASS), "org.apache.spark.deploy.worker.Worker", f"spark://127.0.0.1:{port}",
                 "--cores", str(cores), "--memory", memory, "--webui-port", str(free_port()), "--host", "127.0.0.1"],
                env=env, stdout=logs[-1], stderr=subprocess.STDOUT))
        deadline = time.time() + 180
        while True:
            try:
                if master_state(ui).get("aliveworkers", 0) >= workers:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                raise RuntimeError("the standalone workers did not register; see " + str(workdir))
            time.sleep(1)
        yield {"port": port, "ui": ui,
               "connection": json.dumps({"conn_type": "spark", "host": "spark://127.0.0.1", "port": port})}
    finally:
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        for f in logs:
            f.close()
