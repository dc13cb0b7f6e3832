"""The pipeline's steps, each a plain function of (run id, logical date, connections).

The DAG's tasks and ``caoskol.pipeline.run_local`` both call these, so a step behaves the
same under Airflow, in a test or in a benchmark. Heavy imports stay inside the functions:
the DAG file imports this module at parse time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from caoskol import config

log = logging.getLogger(__name__)


def _reportes_engine_kwargs() -> dict[str, Any]:
    from caoskol import db

    return dict(db.ENGINE_KWARGS)


@dataclass
class Connections:
    """Where the two databases are: built from Airflow connections or from URLs."""

    colegio_dbapi: Callable[[], Any]  # a MySQLdb connection to the source
    reportes_engine: Callable[[], Any]  # a SQLAlchemy engine on the reporting schema

    @classmethod
    def from_airflow(cls) -> "Connections":
        from airflow.providers.mysql.hooks.mysql import MySqlHook

        return cls(
            colegio_dbapi=lambda: MySqlHook(mysql_conn_id=config.COLEGIO_CONN_ID).get_conn(),
            reportes_engine=lambda: MySqlHook(mysql_conn_id=config.REPORTES_CONN_ID).get_sqlalchemy_engine(
                engine_kwargs=_reportes_engine_kwargs()
            ),
        )

    @classmethod
    def from_urls(cls, colegio_url: str | None = None, reportes_url: str | None = None) -> "Connections":
        from caoskol import db

        return cls(
            colegio_dbapi=lambda: db.engine(colegio_url or db.colegio_url()).raw_connection().driver_connection,
            reportes_engine=lambda: db.engine(reportes_url or db.reportes_url()),
        )


def preflight(run_id: str) -> dict[str, str]:
    from caoskol import preflight as pf
    from caoskol import spark_submit

    found = pf.check()
    # Executors on other machines import the shared package from this zip (--py-files).
    spark_submit.build_package_zip(config.run_dir(run_id) / "caoskol.zip")
    return found


def extract(run_id: str, logical_date: datetime, conns: Connections) -> int:
    from caoskol import extract as ex
    from caoskol import runs

    run_dir = config.run_dir(run_id)
    runs.mark_started(conns.reportes_engine(), run_id, logical_date)
    conn = conns.colegio_dbapi()
    try:
        rows = ex.extract_to_snapshot(conn, run_dir / "raw", config.EXTRACT_CHUNK_ROWS)
    finally:
        conn.close()
    runs.write_meta(run_dir, "extract", {"rows": rows})
    return rows


def _validate(run_id: str, kind: str) -> dict[str, Any]:
    from caoskol import runs, validation

    run_dir = config.run_dir(run_id)
    check = validation.validate_raw if kind == "raw" else validation.validate_clean
    try:
        summary = check(run_dir)
    except validation.ValidationFailed as exc:
        # The run log keeps what was measured, not only the message.
        runs.write_meta(run_dir, f"validate_{kind}", {**(exc.summary or {}), "success": False, "error": str(exc)})
        raise
    runs.write_meta(run_dir, f"validate_{kind}", summary)
    return {"success": summary.get("success"), "critical_success": summary.get("critical_success")}


def validate_raw(run_id: str) -> dict[str, Any]:
    """Measure the raw snapshot; fail only on critical expectations (empty, columns)."""
    return _validate(run_id, "raw")


def clean(run_id: str) -> dict[str, Any]:
    from caoskol import cleaning, runs

    run_dir = config.run_dir(run_id)
    counts = cleaning.clean_run(run_dir)
    runs.write_meta(run_dir, "clean", counts)
    return counts


def validate_clean(run_id: str) -> dict[str, Any]:
    """The strict gate: any failed expectation fails the run and nothing is published."""
    return _validate(run_id, "clean")


def publish(run_id: str, logical_date: datetime, conns: Connections) -> dict[str, Any]:
    from caoskol import publish as pub

    return pub.publish_run(conns.reportes_engine(), run_id, logical_date, config.run_dir(run_id))


def mark_failed(run_id: str, logical_date: datetime, error: str, conns: Connections) -> None:
    from caoskol import runs

    runs.mark_failed(conns.reportes_engine(), run_id, logical_date, error, config.run_dir(run_id))


def close_run_if_running(run_id: str, error: str, conns: Connections) -> int:
    from caoskol import runs

    with conns.reportes_engine().begin() as conn:
        return runs.close_if_running(conn, error, run_id=run_id)


def report_date(dag_run) -> datetime:
    """The date a run reports on: its logical date, or when it ran for a manual run
    without one (Airflow 3 lets a manual run have no logical date)."""
    return dag_run.logical_date or dag_run.run_after


def run_dir_str(run_id: str) -> str:
    """Jinja macro for SparkSubmitOperator's templated arguments."""
    return str(config.run_dir(run_id))


def run_path(run_id: str) -> Path:
    return config.run_dir(run_id)
