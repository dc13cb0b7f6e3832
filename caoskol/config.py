"""Configuration read from the environment, with defaults for a single machine.

Every connection id, path and tunable lives here, so the DAG, the Spark apps, the loader
and the portal agree on them.
"""

from __future__ import annotations

import os
from pathlib import Path

# Airflow connection ids. Airflow resolves them from AIRFLOW_CONN_<ID> environment
# variables or its connection store; nothing here holds a host or a password.
COLEGIO_CONN_ID = "colegio_mysql"  # the school's system of record (read by extract)
REPORTES_CONN_ID = "reportes_mysql"  # the reporting schema (written by publish)
SPARK_CONN_ID = "spark_default"  # local[*] by default; spark://host:7077 for a cluster

DAG_ID = "caoskol_nightly"
SCHOOL_TIMEZONE = "America/Bogota"
NIGHTLY_CRON = "0 2 * * *"

# Groups smaller than this are never published by study program (confidentiality).
MIN_PROGRAM_GROUP = 10
# What the portal shows of a program group is coarsened: n to the nearest multiple of
# PROGRAM_COUNT_BASE, means and deviations to whole points. An administrator who can edit
# a student's record and re-run the pipeline would otherwise read the student's program
# off the difference between two runs (one student more or less moves n by exactly 1).
PROGRAM_COUNT_BASE = 5
PROGRAM_VALUE_DECIMALS = 0

# Rows per chunk when streaming the source table to the snapshot: bounds memory.
EXTRACT_CHUNK_ROWS = int(os.environ.get("CAOSKOL_EXTRACT_CHUNK_ROWS", "50000"))
# Rows per batch through the cleaning policy (pandas): bounds the clean task's working set
# (~300 bytes per row while a batch is processed) and amortises the per-batch overhead.
CLEAN_BATCH_ROWS = int(os.environ.get("CAOSKOL_CLEAN_BATCH_ROWS", "500000"))

REPO_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """Root of the per-run snapshots (Parquet, validation results, Spark outputs)."""
    return Path(os.environ.get("CAOSKOL_DATA_DIR", REPO_ROOT / "var" / "data")).resolve()


def run_dir(run_id: str) -> Path:
    """One folder per run; run ids from Airflow contain ':' and '+', kept file-safe here."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in run_id)
    return data_dir() / "runs" / safe


def var_dir() -> Path:
    """Everything a machine's runs write (gitignored): ``$CAOSKOL_VAR``, default ``var/``."""
    return Path(os.environ.get("CAOSKOL_VAR", REPO_ROOT / "var")).resolve()


def spark_class_archive() -> Path:
    """The Spark driver's class-data-sharing archive (see ``caoskol.spark_cds``)."""
    default = var_dir() / "spark" / "driver-classes.jsa"
    return Path(os.environ.get("CAOSKOL_SPARK_CLASS_ARCHIVE", default))


def expectations_dir() -> Path:
    return Path(os.environ.get("CAOSKOL_EXPECTATIONS_DIR", REPO_ROOT / "expectations"))


def spark_apps_dir() -> Path:
    return Path(os.environ.get("CAOSKOL_SPARK_APPS_DIR", REPO_ROOT / "spark_apps"))


def password_hash_method() -> str:
    """werkzeug hash method. scrypt by default; tests may pick a cheaper cost explicitly."""
    return os.environ.get("CAOSKOL_PASSWORD_HASH_METHOD", "scrypt")


def task_retries() -> int:
    return int(os.environ.get("CAOSKOL_TASK_RETRIES", "2"))


def retry_delay_seconds() -> int:
    return int(os.environ.get("CAOSKOL_RETRY_DELAY_SECONDS", "60"))


def run_timeout_hours() -> float:
    """A nightly run still going after this long is failed by the scheduler (10M rows take
    minutes here); the run callback then records it, so no run stays 'en curso' for ever."""
    return float(os.environ.get("CAOSKOL_RUN_TIMEOUT_HOURS", "6"))
