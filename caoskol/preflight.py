"""Fail fast, naming what is missing, before any data is touched."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from caoskol import config, spark_submit
from caoskol.errors import PermanentError


class PreflightError(PermanentError):
    pass


def check() -> dict[str, str]:
    problems: list[str] = []
    found: dict[str, str] = {}
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        problems.append("no se encuentra `java` (Java 17): instálelo o defina JAVA_HOME")
    else:
        found["java"] = java
    submit = shutil.which("spark-submit")
    if not submit:
        problems.append("no se encuentra `spark-submit` en el PATH (pip install pyspark en el entorno de Airflow)")
    else:
        found["spark-submit"] = submit
    for task_id in spark_submit.SPARK_JOBS:
        app = Path(spark_submit.application_path(task_id))
        if not app.exists():
            problems.append(f"falta la aplicación Spark {app}")
    for name in ("raw_suite.json", "clean_suite.json"):
        suite = config.expectations_dir() / name
        if not suite.exists():
            problems.append(f"falta la suite de Great Expectations {suite}")
    data = config.data_dir()
    try:
        data.mkdir(parents=True, exist_ok=True)
        probe = data / ".preflight"
        probe.write_text("ok")
        probe.unlink()
        found["data_dir"] = str(data)
    except OSError as exc:
        problems.append(f"no se puede escribir en el directorio de datos {data}: {exc}")
    if problems:
        raise PreflightError("Preflight falló: " + "; ".join(problems))
    return found
