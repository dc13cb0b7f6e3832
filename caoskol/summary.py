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


def demo_accounts(users_csv: Path, colegio: Engine) -> list[tuple[str, str, str, bool]]:
    """(role, id, password, usable) of one account per role from a generated users file.

    ``usable``: the database still holds that password. The loader never overwrites an
    existing account's password, so on a database that had the accounts already (or after
    a first login changed it) the file's password is no longer the account's.
    """
    from werkzeug.security import check_password_hash

    picked: dict[str, tuple[str, str]] = {}
    with open(users_csv, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            picked.setdefault(row["rol"].strip().lower(), (row["id"], row["clave"]))
    u = schema.usuarios
    out = []
    with colegio.connect() as conn:
        for role, (uid, pw) in picked.items():
            stored = conn.execute(select(u.c.clave_hash).where(u.c.id == int(uid))).scalar()
            out.append((role, uid, pw, bool(stored) and check_password_hash(stored, pw)))
    return out


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
    for role, uid, pw, usable in accounts:
        if usable:
            out.append(f"  cuenta de demostración {role}: id {uid}, clave {pw} (pedirá cambiarla al entrar)")
        else:
            out.append(
                f"  cuenta de demostración {role}: id {uid}: su clave ya no es la generada (fue cambiada o la "
                f"cuenta existía antes); restablézcala con: caoskol create-user --id {uid} --nombre ... --rol {role} --replace"
            )
    return "\n".join(out)
