"""The run log: each task's facts kept in the run folder, and the `ejecuciones` table.

Tasks run in separate processes (and, on a cluster, on separate machines sharing the data
directory), so each writes what it learned to ``<run_dir>/meta/<name>.json``; publish
gathers them into one `ejecuciones` row in the same transaction as the report.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.engine import Connection, Engine

from caoskol import schema


def meta_dir(run_dir: Path) -> Path:
    d = Path(run_dir) / "meta"
    d.mkdir(parents=True, exist_ok=True)
    return d


def write_meta(run_dir: Path, name: str, data: dict[str, Any]) -> None:
    _write_json(meta_dir(run_dir) / f"{name}.json", data)


def read_meta(run_dir: Path, name: str) -> dict[str, Any]:
    path = meta_dir(run_dir) / f"{name}.json"
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def _timing_path(run_dir: Path, task_id: str) -> Path:
    # One file per task: tasks run in parallel (the two Spark jobs), and a shared file
    # rewritten by each would lose or mangle the other's entry.
    d = meta_dir(run_dir) / "timings"
    d.mkdir(parents=True, exist_ok=True)
    return d / f"{task_id}.json"


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, default=str), encoding="utf-8")
    tmp.replace(path)


def record_task_start(run_dir: Path, task_id: str) -> None:
    _write_json(_timing_path(run_dir, task_id), {"start": time.time()})


def record_task_end(run_dir: Path, task_id: str) -> None:
    path = _timing_path(run_dir, task_id)
    entry = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    entry["end"] = time.time()
    if "start" in entry:
        entry["seconds"] = round(entry["end"] - entry["start"], 3)
    _write_json(path, entry)


def timings(run_dir: Path) -> dict[str, dict[str, float]]:
    d = meta_dir(run_dir) / "timings"
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(d.glob("*.json"))} if d.exists() else {}


def task_seconds(run_dir: Path) -> dict[str, float]:
    return {k: v["seconds"] for k, v in timings(run_dir).items() if "seconds" in v}


def _utc(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, tz=timezone.utc).replace(tzinfo=None) if ts else None


def naive_utc(dt: datetime) -> datetime:
    if dt.tzinfo is not None:
        dt = dt.astimezone(timezone.utc).replace(tzinfo=None)
    return dt


def upsert_run(conn: Connection, run_id: str, logical_date: datetime, **values: Any) -> None:
    row = {"run_id": run_id, "fecha_logica": naive_utc(logical_date), **values}
    stmt = mysql_insert(schema.ejecuciones).values(**row)
    conn.execute(stmt.on_duplicate_key_update(**{k: stmt.inserted[k] for k in row if k != "run_id"}))


# Why a run can stay 'en_curso' with nothing running: Airflow does not call task callbacks
# when a run is marked failed by hand, a worker is killed, or the scheduler times the run out.
SUPERSEDED = (
    "la ejecución terminó sin registrar su resultado (interrumpida o marcada como fallida en "
    "Airflow) y una ejecución nueva empezó; no se publicó nada de ella"
)


def close_if_running(conn: Connection, error: str, *, run_id: str | None = None, except_run_id: str | None = None) -> int:
    """Mark runs still 'en_curso' as failed (one run, or all but one); how many were.

    Only 'en_curso' rows change: a run that already recorded its own failure or success
    keeps its state and its message.
    """
    e = schema.ejecuciones
    stmt = update(e).where(e.c.estado == "en_curso")
    if run_id is not None:
        stmt = stmt.where(e.c.run_id == run_id)
    if except_run_id is not None:
        stmt = stmt.where(e.c.run_id != except_run_id)
    return conn.execute(stmt.values(estado="fallida", fin=datetime.utcnow(), error=error[:60000])).rowcount


def mark_started(engine: Engine, run_id: str, logical_date: datetime) -> None:
    with engine.begin() as conn:
        # The DAG allows one active run (max_active_runs = 1): when this one starts, any
        # other run still 'en_curso' is dead, and the portal must not call it running.
        close_if_running(conn, SUPERSEDED, except_run_id=run_id)
        upsert_run(
            conn, run_id, logical_date, estado="en_curso", inicio=datetime.utcnow(), fin=None, error=None
        )


def mark_failed(engine: Engine, run_id: str, logical_date: datetime, error: str, run_dir: Path) -> None:
    """Record a failed run. The report pointer is not touched: the previous report stays."""
    with engine.begin() as conn:
        upsert_run(
            conn,
            run_id,
            logical_date,
            estado="fallida",
            fin=datetime.utcnow(),
            error=error[:60000],
            tiempos_tareas=task_seconds(run_dir),
            # What was read before the failure (0 for an empty table), when extract got that far.
            filas_leidas=read_meta(run_dir, "extract").get("rows"),
        )


def current_run_id(conn: Connection) -> str | None:
    return conn.execute(select(schema.reporte_actual.c.run_id).where(schema.reporte_actual.c.id == 1)).scalar()


def move_pointer_to_latest(conn: Connection) -> str | None:
    """Point readers at the successful run with the latest logical date.

    Re-running an old date (a backfill) republishes that date but does not hide a newer
    report; a failed run never becomes current.
    """
    e = schema.ejecuciones
    latest = conn.execute(
        select(e.c.run_id).where(e.c.estado == "exitosa").order_by(e.c.fecha_logica.desc(), e.c.fin.desc()).limit(1)
    ).scalar()
    if latest is None:
        return None
    stmt = mysql_insert(schema.reporte_actual).values(id=1, run_id=latest, publicado_en=datetime.utcnow())
    conn.execute(stmt.on_duplicate_key_update(run_id=stmt.inserted.run_id, publicado_en=stmt.inserted.publicado_en))
    return latest


__all__ = [
    "mark_failed",
    "mark_started",
    "close_if_running",
    "move_pointer_to_latest",
    "read_meta",
    "record_task_end",
    "record_task_start",
    "task_seconds",
    "write_meta",
]
