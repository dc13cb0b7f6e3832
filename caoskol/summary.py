"""The short summary printed after a run: what went in, what came out, where to look."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine

from caoskol import schema


def run_summary(engine: Engine) -> dict:
    e, s, g = schema.ejecuciones, schema.estadisticas, schema.estudiantes_por_grado
    with engine.connect() as conn:
        latest = conn.execute(select(e).order_by(e.c.inicio.desc()).limit(1)).mappings().first()
        current_id = conn.execute(select(schema.reporte_actual.c.run_id)).scalar()
        current = conn.execute(select(e).where(e.c.run_id == current_id)).mappings().first() if current_id else None
        means = {}
        grades = []
        if current_id:
            rows = conn.execute(
                select(s.c.variable, s.c.n, s.c.media).where(s.c.run_id == current_id, s.c.ambito == "escuela")
            ).all()
            means = {r.variable: (r.n, r.media) for r in rows}
            grades = conn.execute(select(g.c.grado, g.c.n).where(g.c.run_id == current_id).order_by(g.c.grado)).all()
    return {"latest": dict(latest) if latest else None, "current": dict(current) if current else None,
            "means": means, "grades": [(r.grado, r.n) for r in grades]}


def demo_accounts(users_csv: Path) -> list[tuple[str, str, str]]:
    """(role, id, password) of one account per role from a generated users file."""
    picked: dict[str, tuple[str, str, str]] = {}
    with open(users_csv, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            role = row["rol"].strip().lower()
            picked.setdefault(role, (role, row["id"], row["clave"]))
    return list(picked.values())


def format_summary(info: dict, airflow_url: str, portal_url: str, accounts, airflow_password: str | None) -> str:
    out = []
    latest, current = info["latest"], info["current"]
    if latest:
        out.append(f"Última ejecución: {latest['run_id']} -> {latest['estado']}")
        if latest.get("error"):
            out.append(f"  error: {latest['error'][:500]}")
    if current:
        out.append(
            f"Reporte publicado ({current['run_id']}, datos del {current['fecha_logica']:%Y-%m-%d}): "
            f"filas leídas {current['filas_leidas']}, limpias {current['filas_limpias']}, "
            f"en cuarentena {current['filas_cuarentena']}"
        )
        timings = current.get("tiempos_tareas") or {}
        if isinstance(timings, str):
            timings = json.loads(timings)
        if timings:
            out.append("  tiempos (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
        for var in schema.STAT_VARIABLES:
            n, mean = info["means"].get(var, (0, None))
            out.append(f"  {var:<12} n={n:<6} media={'sin dato' if mean is None else f'{mean:.4f}'}")
        out.append("  estudiantes por grado: " + ", ".join(
            f"{'sin grado' if g is None else g}: {n}" for g, n in info["grades"]))
    else:
        out.append("Aún no hay reporte publicado.")
    out.append(f"Airflow (DAG caoskol_nightly): {airflow_url}" + (f"  usuario admin, clave {airflow_password}" if airflow_password else ""))
    out.append(f"Portal: {portal_url}")
    for role, uid, pw in accounts:
        out.append(f"  cuenta de demostración {role}: id {uid}, clave {pw} (pedirá cambiarla al entrar)")
    return "\n".join(out)
