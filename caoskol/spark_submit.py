"""How the Spark jobs are submitted: one definition for the DAG and for local runs.

The DAG hands these to SparkSubmitOperator (master from the `spark_default` connection);
``caoskol.pipeline`` builds the same spark-submit command line without Airflow.
"""

from __future__ import annotations

import os
import sys
import zipfile
from pathlib import Path

from caoskol import config

# task id -> entry point under spark_apps/
SPARK_JOBS = {
    "spark_statistics": "caoskol_statistics.py",
    "spark_correlations": "caoskol_correlations.py",
}

# ANSI mode is Spark 4's default; set it anyway so a cluster configured otherwise cannot
# change the semantics the jobs were tested under.
SPARK_CONF = {
    "spark.sql.ansi.enabled": "true",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
}


def spark_conf() -> dict[str, str]:
    """What every submit passes: ``SPARK_CONF`` plus start-up settings of this machine.

    * ``spark.ui.enabled=false``: each job lives ~10 s; its web UI costs ~0.8 s to start
      and nobody opens it (the cluster master's UI still lists the applications). Set
      ``CAOSKOL_SPARK_UI=true`` to have it.
    * The driver JVM maps the class-data-sharing archive of ``caoskol.spark_cds`` when one
      exists: loading Spark's classes is most of a job's fixed cost (8.3 s -> 5.2 s for a
      no-op job, docs/BENCHMARKS.md). A missing, stale or foreign archive is ignored by the
      JVM, never an error; in cluster deploy mode the path simply does not exist there.
    """
    conf = dict(SPARK_CONF)
    if os.environ.get("CAOSKOL_SPARK_UI", "false").lower() not in ("1", "true", "yes"):
        conf["spark.ui.enabled"] = "false"
    archive = config.spark_class_archive()
    if archive.is_file():
        conf["spark.driver.extraJavaOptions"] = f"-XX:SharedArchiveFile={archive}"
    return conf


def application_path(task_id: str) -> str:
    return str(config.spark_apps_dir() / SPARK_JOBS[task_id])


def application_args(run_dir: str | Path) -> list[str]:
    return ["--input", f"{run_dir}/clean", "--output", f"{run_dir}/spark"]


def driver_memory() -> str:
    return os.environ.get("CAOSKOL_SPARK_DRIVER_MEMORY", "1g")


def spark_env() -> dict[str, str]:
    """Environment for spark-submit: the Python that has the project's dependencies."""
    python = os.environ.get("PYSPARK_PYTHON", sys.executable)
    return {"PYSPARK_PYTHON": python, "PYSPARK_DRIVER_PYTHON": python}


def build_package_zip(dest: Path) -> Path:
    """Zip the `caoskol` package for --py-files, so executors on other machines import it."""
    pkg = Path(__file__).resolve().parent
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(pkg.rglob("*.py")):
            zf.write(f, Path("caoskol") / f.relative_to(pkg))
    tmp.replace(dest)
    return dest
