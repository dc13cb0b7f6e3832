"""Publish: one run's report into the reporting tables, atomically.

Everything of one run is written in one transaction: the run's old rows (a re-run of the
same logical date) are deleted, the new ones inserted, the `ejecuciones` row completed, and
only then does `reporte_actual` move. A reader sees the previous report or the new one,
never half of one; a run that fails before this step leaves the previous report current.
"""

from __future__ import annotations

import json
import logging
import math
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine

from caoskol import config, runs, schema

log = logging.getLogger(__name__)

# Folder under the run's spark/ output holding each table's rows (see docs/CONTRACTS.md).
SPARK_OUTPUTS = {
    "estadisticas": schema.estadisticas,
    "estudiantes_por_grado": schema.estudiantes_por_grado,
    "distribucion_premios": schema.distribucion_premios,
    "histogramas": schema.histogramas,
    "correlaciones": schema.correlaciones,
    "agregados_programa": schema.agregados_programa,
}

INSERT_BATCH = 5000


class PublishError(RuntimeError):
    pass


def _clean_value(v: Any) -> Any:
    # MySQL has no NaN; an undefined statistic is NULL. Spark already emits NULL, this
    # guards the boundary so a NaN from any producer can never be published as a number.
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    return v


def read_rows(folder: Path, table) -> list[dict[str, Any]]:
    """Rows of a Parquet folder, restricted to and checked against the table's columns."""
    if not folder.exists():
        raise PublishError(f"falta la salida {folder} (¿terminó el trabajo de Spark?)")
    data = pq.read_table(folder).to_pylist()
    wanted = [c.name for c in table.columns if c.name not in ("pk", "run_id")]
    if data:
        missing = set(wanted) - set(data[0])
        if missing:
            raise PublishError(f"{folder}: faltan columnas {sorted(missing)}")
    return [{c: _clean_value(r.get(c)) for c in wanted} for r in data]




def publish_run(engine: Engine, run_id: str, logical_date: datetime, run_dir: Path) -> dict[str, Any]:
    run_dir = Path(run_dir)
    spark_dir = run_dir / "spark"
    tables = {name: read_rows(spark_dir / name, table) for name, table in SPARK_OUTPUTS.items()}
    # Confidentiality is enforced here too, whatever the producer did.
    tables["agregados_programa"] = [r for r in tables["agregados_programa"] if r["n"] >= config.MIN_PROGRAM_GROUP]
    quarantine_dir = run_dir / "quarantine"
    tables["cuarentena"] = read_rows(quarantine_dir, schema.cuarentena) if quarantine_dir.exists() else []
    for r in tables["cuarentena"]:
        # Cleaning writes `datos` as JSON text; the column is JSON, so store the object.
        if isinstance(r["datos"], str):
            r["datos"] = json.loads(r["datos"])

    counts = runs.read_meta(run_dir, "clean")
    validation = {
        "cruda": runs.read_meta(run_dir, "validate_raw"),
        "limpia": runs.read_meta(run_dir, "validate_clean"),
    }
    started = runs.timings(run_dir).get("extract", {}).get("start")
    by_name = {t.name: t for t in schema.REPORT_TABLES}
    e = schema.ejecuciones
    with engine.begin() as conn:
        # A report is identified by its logical date: a re-run of the same date (cleared
        # in the UI, same run id; or triggered again, new run id) replaces its rows.
        same_date = conn.execute(
            select(e.c.run_id).where(e.c.fecha_logica == runs.naive_utc(logical_date), e.c.run_id != run_id)
        ).scalars().all()
        for table in schema.REPORT_TABLES:
            conn.execute(delete(table).where(table.c.run_id.in_([run_id, *same_date])))
        if same_date:
            conn.execute(
                update(e).where(e.c.run_id.in_(same_date), e.c.estado == "exitosa").values(estado="reemplazada")
            )
        for name, rows in tables.items():
            table = by_name[name]
            for i in range(0, len(rows), INSERT_BATCH):
                batch = [{**r, "run_id": run_id} for r in rows[i : i + INSERT_BATCH]]
                conn.execute(table.insert(), batch)
        runs.upsert_run(
            conn,
            run_id,
            logical_date,
            estado="exitosa",
            inicio=runs._utc(started) if started else None,
            fin=datetime.utcnow(),
            filas_leidas=counts.get("read"),
            filas_limpias=counts.get("clean"),
            filas_cuarentena=counts.get("quarantined"),
            validacion_cruda_ok=validation["cruda"].get("critical_success"),
            validacion_limpia_ok=validation["limpia"].get("success"),
            validacion_detalle=validation,
            tiempos_tareas=runs.task_seconds(run_dir),
            data_docs=validation["cruda"].get("docs_index"),
            error=None,
        )
        current = runs.move_pointer_to_latest(conn)
    summary = {"run_id": run_id, "current": current, **{k: len(v) for k, v in tables.items()}}
    log.info("publicado: %s", summary)
    return summary
