"""The data the portal tests run against: the school's students in ``colegio`` and a
published report in ``caoskol_reportes``.

Two sources, one shape (``PortalData``):

* ``pipeline`` - the school's seed files loaded into ``colegio`` by the project's loader and
  two real runs of ``caoskol.pipeline.run_local`` (extract, validate, clean, Spark, publish).
* ``handmade`` - the same seed files parsed here and loaded directly, and a report computed
  here with pandas as a stand-in for the Spark jobs (test code only: the portal itself never
  computes statistics), written through the ``caoskol.schema`` tables.

``CAOSKOL_PORTAL_TEST_DATA`` = ``pipeline`` | ``handmade`` | ``auto`` (default: the pipeline
when ``caoskol.pipeline.run_local`` and the loader are importable, else handmade). The
pipeline source costs about two Spark runs (a few minutes); ``handmade`` is for quick local
iteration.

Tests never hard-code a statistic: they read the expected numbers from the reporting tables,
so they hold for either source.
"""

from __future__ import annotations

import csv
import importlib
import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import delete, func, insert, select, update
from werkzeug.security import generate_password_hash

from caoskol import config, db, schema

TEST_PASSWORD = "clave-de-prueba-9"
HASH_METHOD = "pbkdf2:sha256:1000"  # cheap on purpose: tests hash often

# Accounts the tests log in with (ids from the seed files, plus ones added here).
STUDENT_ID = 55  # Mario Muñoz in the school's accounts file
OTHER_STUDENT_ID = 84
TEACHER_ID = 401
ADMIN_ID = 9001
NO_GRADE_STUDENT_ID = 9101
NO_SCIENCE_STUDENT_ID = 9102
MUST_CHANGE_ID = 9103  # keeps debe_cambiar_clave = 1
QUARANTINED_STUDENT_ID = 9104  # science out of range: every run quarantines the row ("en revisión")
QUARANTINED_SCORE = 107

EXTRA_STUDENTS = [
    # (id, nombre, grado, premios, programa, matematicas, ingles, ciencias)
    (NO_GRADE_STUDENT_ID, "Zoë Sin Grado", None, 1, 0, 70, 71, 72),
    (NO_SCIENCE_STUDENT_ID, "Ñandú Peña Muñoz", 7, 0, 1, 64, 58, None),
    (MUST_CHANGE_ID, "Débora Cambio", 8, 2, 3, 80, 81, 82),
    (QUARANTINED_STUDENT_ID, "Rafael Revisión", 8, 1, 3, 68, 57, QUARANTINED_SCORE),
]
EXTRA_USERS = [
    (ADMIN_ID, "Ana Administradora", "administrador"),
    (NO_GRADE_STUDENT_ID, "Zoë Sin Grado", "estudiante"),
    (NO_SCIENCE_STUDENT_ID, "Ñandú Peña Muñoz", "estudiante"),
    (MUST_CHANGE_ID, "Débora Cambio", "estudiante"),
    (QUARANTINED_STUDENT_ID, "Rafael Revisión", "estudiante"),
]


@dataclass
class PortalData:
    colegio_url: str
    reportes_url: str
    source: str
    current_run: str
    previous_run: str | None = None
    failed_run: str | None = None
    data_dir: str | None = None  # the pipeline's run folders (Data Docs), when it ran
    accounts: dict[str, tuple[int, str]] = field(default_factory=dict)

    def engines(self):
        return db.engine(self.colegio_url), db.engine(self.reportes_url)


# --- the school's files ----------------------------------------------------------------------

_TUPLE = re.compile(r"\((\d+),\s*'((?:[^'\\]|\\.|'')*)',\s*(\w+),\s*(\w+),\s*(\w+),\s*(\w+),\s*(\w+),\s*(\w+)\)")


def _int(v: str) -> int | None:
    return None if v.upper() == "NULL" else int(v)


def read_seed_results(seed_dir: Path) -> list[dict[str, Any]]:
    """US_Dataset.csv is SQL tuples, not CSV (see the seed README)."""
    text = (seed_dir / "US_Dataset.csv").read_text(encoding="utf-8", errors="replace")
    rows = []
    for m in _TUPLE.finditer(text):
        sid, nombre, grado, premios, programa, mat, ing, cie = m.groups()
        rows.append({
            "id": int(sid), "nombre": nombre.replace("''", "'"), "grado": _int(grado), "premios": _int(premios),
            "programa": _int(programa), "matematicas": _int(mat), "ingles": _int(ing), "ciencias": _int(cie),
        })
    return rows


def read_seed_users(seed_dir: Path) -> list[dict[str, Any]]:
    with open(seed_dir / "US_Dataset_users.csv", encoding="utf-8", newline="") as fh:
        return [
            {"id": int(r["id"]), "nombre": r["nombre"], "rol": r["rol"].strip().lower(),
             "grado": None if r["grado"] == "NULL" else int(r["grado"])}
            for r in csv.DictReader(fh)
        ]


# --- a report computed here (stand-in for the Spark jobs) ------------------------------------


def _stats(values: pd.Series) -> dict[str, Any]:
    v = values.dropna().astype(float)
    n = int(v.size)
    return {
        "n": n,
        "media": float(v.mean()) if n else None,
        "desviacion": float(v.std(ddof=1)) if n >= 2 else None,
        "minimo": float(v.min()) if n else None,
        "maximo": float(v.max()) if n else None,
    }


def _corr(x: pd.Series, y: pd.Series) -> tuple[int, float | None]:
    both = pd.DataFrame({"x": x, "y": y}).dropna().astype(float)
    n = int(len(both))
    if n < 2 or both["x"].nunique() < 2 or both["y"].nunique() < 2:
        return n, None
    return n, float(both["x"].corr(both["y"]))


def compute_report(df: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {t.name: [] for t in schema.REPORT_TABLES}
    scopes = [("escuela", None, df)] + [
        ("grado", int(g), part) for g, part in df[df["grado"].notna()].groupby("grado")
    ]
    for ambito, grado, part in scopes:
        for var in schema.STAT_VARIABLES:
            out["estadisticas"].append({"ambito": ambito, "grado": grado, "variable": var, **_stats(part[var])})
        for premios, n in part["premios"].dropna().astype(int).value_counts().sort_index().items():
            out["distribucion_premios"].append({"ambito": ambito, "grado": grado, "premios": int(premios), "n": int(n)})
        for materia in schema.SUBJECTS:
            for puntaje, n in part[materia].dropna().astype(int).value_counts().sort_index().items():
                out["histogramas"].append(
                    {"ambito": ambito, "grado": grado, "materia": materia, "puntaje": int(puntaje), "n": int(n)}
                )
        pairs = [("premios", m) for m in schema.SUBJECTS] + [
            ("matematicas", "ingles"), ("matematicas", "ciencias"), ("ingles", "ciencias")
        ]
        for x, y in pairs:
            n, r = _corr(part[x], part[y])
            out["correlaciones"].append({"ambito": ambito, "grado": grado, "variable_x": x, "variable_y": y, "n": n, "r": r})
    for grado, n in df["grado"].value_counts(dropna=False).items():
        out["estudiantes_por_grado"].append({"grado": None if pd.isna(grado) else int(grado), "n": int(n)})
    for programa, part in df[df["programa"].notna()].groupby("programa"):
        for var in schema.STAT_VARIABLES:
            s = _stats(part[var])
            if s["n"] >= config.MIN_PROGRAM_GROUP:
                out["agregados_programa"].append(
                    {"programa": int(programa), "variable": var, "n": s["n"], "media": s["media"], "desviacion": s["desviacion"]}
                )
    return out


def publish_handmade(reportes_url: str, run_id: str, fecha: datetime, report: dict[str, list[dict]], *,
                     cuarentena: list[dict] | None = None, move_pointer: bool = True, estado: str = "exitosa",
                     extra: dict[str, Any] | None = None) -> None:
    eng = db.engine(reportes_url)
    by_name = {t.name: t for t in schema.REPORT_TABLES}
    with eng.begin() as conn:
        for t in schema.REPORT_TABLES:
            conn.execute(delete(t).where(t.c.run_id == run_id))
        for name, rows in {**report, "cuarentena": cuarentena or []}.items():
            if rows:
                conn.execute(insert(by_name[name]), [{**r, "run_id": run_id} for r in rows])
        conn.execute(delete(schema.ejecuciones).where(schema.ejecuciones.c.run_id == run_id))
        conn.execute(insert(schema.ejecuciones).values(
            run_id=run_id, fecha_logica=fecha, inicio=fecha + timedelta(minutes=1), fin=fecha + timedelta(minutes=4),
            estado=estado, **(extra or {}),
        ))
        if move_pointer:
            conn.execute(delete(schema.reporte_actual))
            conn.execute(insert(schema.reporte_actual).values(id=1, run_id=run_id, publicado_en=datetime.utcnow()))
    eng.dispose()


def _load_colegio_directly(colegio_url: str, seed_dir: Path) -> None:
    results = read_seed_results(seed_dir)
    users = read_seed_users(seed_dir)
    good_names = {u["id"]: u["nombre"] for u in users}
    for r in results:
        if "\ufffd" in r["nombre"] and r["id"] in good_names:
            r["nombre"] = good_names[r["id"]]  # the accounts file kept the ñ
    eng = db.engine(colegio_url)
    pw = generate_password_hash("1234", method=HASH_METHOD)
    with eng.begin() as conn:
        conn.execute(insert(schema.notas), results)
        conn.execute(insert(schema.usuarios), [
            {"id": u["id"], "nombre": u["nombre"], "rol": u["rol"], "clave_hash": pw, "debe_cambiar_clave": True}
            for u in users
        ])
    eng.dispose()


def _add_test_accounts(colegio_url: str) -> None:
    """Edge-case students and an administrator; known passwords for the accounts tests use."""
    eng = db.engine(colegio_url)
    pw = generate_password_hash(TEST_PASSWORD, method=HASH_METHOD)
    cols = ("id", "nombre", "grado", "premios", "programa", "matematicas", "ingles", "ciencias")
    with eng.begin() as conn:
        existing = set(conn.execute(select(schema.notas.c.id)).scalars())
        conn.execute(insert(schema.notas), [dict(zip(cols, s)) for s in EXTRA_STUDENTS if s[0] not in existing])
        existing_users = set(conn.execute(select(schema.usuarios.c.id)).scalars())
        conn.execute(insert(schema.usuarios), [
            {"id": i, "nombre": n, "rol": r, "clave_hash": pw, "debe_cambiar_clave": False}
            for i, n, r in EXTRA_USERS if i not in existing_users
        ])
        for uid in (STUDENT_ID, OTHER_STUDENT_ID, TEACHER_ID, ADMIN_ID, NO_GRADE_STUDENT_ID, NO_SCIENCE_STUDENT_ID):
            conn.execute(  # one salt per account, as the portal does
                update(schema.usuarios).where(schema.usuarios.c.id == uid)
                .values(clave_hash=generate_password_hash(TEST_PASSWORD, method=HASH_METHOD), debe_cambiar_clave=False)
            )
        conn.execute(update(schema.usuarios).where(schema.usuarios.c.id == MUST_CHANGE_ID)
                     .values(clave_hash=pw, debe_cambiar_clave=True))
    eng.dispose()


def _colegio_frame(colegio_url: str) -> pd.DataFrame:
    eng = db.engine(colegio_url)
    with eng.connect() as conn:
        rows = [dict(r) for r in conn.execute(select(*[schema.notas.c[c] for c in schema.NOTAS_COLUMNS])).mappings()]
    eng.dispose()
    return pd.DataFrame(rows, columns=list(schema.NOTAS_COLUMNS)).astype(
        {c: "Float64" for c in schema.NOTAS_COLUMNS if c not in ("id", "nombre")}
    )


def build_handmade(colegio_url: str, reportes_url: str, seed_dir: Path) -> PortalData:
    _load_colegio_directly(colegio_url, seed_dir)
    _add_test_accounts(colegio_url)
    df = _colegio_frame(colegio_url)
    # What the cleaning step would quarantine (the out-of-range science score) stays out of
    # the report, as in a real run.
    out_of_range = df["id"] == QUARANTINED_STUDENT_ID
    quarantined_row = df[out_of_range].iloc[0]
    df = df[~out_of_range].reset_index(drop=True)
    prev = df.copy()
    for m in schema.SUBJECTS:  # an older export: a little lower, to draw a trend
        prev[m] = (prev[m] - 3).clip(lower=0)
    day = datetime(2025, 3, 10, 2, 0)
    previous, current, failed = "manual__2025-03-10", "manual__2025-03-11", "manual__2025-03-12"
    publish_handmade(reportes_url, previous, day, compute_report(prev))
    quarantine = [
        {"id_origen": "9999", "motivo": "matematicas fuera de rango (0..100)",
         "datos": {"id": 9999, "nombre": "Fila Defectuosa", "grado": 9, "matematicas": 130}},
        {"id_origen": None, "motivo": "id ausente", "datos": {"nombre": "Sin Id", "grado": 6}},
        {"id_origen": str(QUARANTINED_STUDENT_ID),
         "motivo": f"puntaje fuera de rango {schema.SCORE_MIN}-{schema.SCORE_MAX}: ciencias={QUARANTINED_SCORE}",
         "datos": {"id": QUARANTINED_STUDENT_ID, "nombre": quarantined_row["nombre"], "grado": 8,
                   "ciencias": QUARANTINED_SCORE}},
    ]
    publish_handmade(reportes_url, current, day + timedelta(days=1), compute_report(df), cuarentena=quarantine, extra={
        "filas_leidas": len(df) + 3, "filas_limpias": len(df), "filas_cuarentena": 3,
        "validacion_cruda_ok": False, "validacion_limpia_ok": True,
        "validacion_detalle": {"cruda": {"success": False}, "limpia": {"success": True}},
        "tiempos_tareas": {"extract": 1.2, "clean": 0.8, "publish": 0.5},
    })
    publish_handmade(reportes_url, failed, day + timedelta(days=2), {}, move_pointer=False, estado="fallida",
                     extra={"error": "validate_clean: la suite estricta falló"})
    return PortalData(colegio_url, reportes_url, "handmade", current, previous, failed)


def pipeline_available() -> bool:
    try:
        pipeline = importlib.import_module("caoskol.pipeline")
        importlib.import_module("caoskol.loaders")
    except ImportError:
        return False
    return hasattr(pipeline, "run_local")


def _fix_lost_letters(colegio_url: str, seed_dir: Path) -> None:
    """What the loader asks for ("correct it at the source"): names whose ñ the results file
    lost are corrected from the accounts file, as the school's administrator would."""
    good = {u["id"]: u["nombre"] for u in read_seed_users(seed_dir)}
    eng = db.engine(colegio_url)
    with eng.begin() as conn:
        broken = conn.execute(select(schema.notas.c.id).where(schema.notas.c.nombre.like("%\ufffd%"))).scalars().all()
        for sid in broken:
            if sid in good:
                conn.execute(update(schema.notas).where(schema.notas.c.id == sid).values(nombre=good[sid]))
    eng.dispose()


def build_with_pipeline(colegio_url: str, reportes_url: str, seed_dir: Path) -> PortalData:
    """Seed files through the project's loader, then real pipeline runs (no Airflow):
    an older run, a few corrections, the current run, and a newer run that failed."""
    import atexit
    import shutil
    import tempfile

    from caoskol import runs
    from caoskol.loaders import load_files
    from caoskol.pipeline import run_local
    from caoskol.steps import Connections

    report = load_files([seed_dir / "US_Dataset.csv", seed_dir / "US_Dataset_users.csv"], url=colegio_url)
    assert not report.has_errors, report.format()
    _fix_lost_letters(colegio_url, seed_dir)
    _add_test_accounts(colegio_url)

    data_dir = Path(tempfile.mkdtemp(prefix="caoskol-portal-runs-"))
    atexit.register(shutil.rmtree, data_dir, True)
    old = os.environ.get("CAOSKOL_DATA_DIR")
    os.environ["CAOSKOL_DATA_DIR"] = str(data_dir)
    conns = Connections.from_urls(colegio_url, reportes_url)
    day = datetime(2025, 3, 10, 2, 0)
    previous, current, failed = "portal__2025-03-10", "portal__2025-03-11", "portal__2025-03-12"
    try:
        run_local(previous, day, conns, master="local[2]")
        eng = db.engine(colegio_url)
        with eng.begin() as conn:  # the school corrects some results between two nights
            conn.execute(update(schema.notas).where(schema.notas.c.grado == 9)
                         .values(matematicas=func.least(100, schema.notas.c.matematicas + 5)))
        eng.dispose()
        run_local(current, day + timedelta(days=1), conns, master="local[2]")
        rep = db.engine(reportes_url)
        runs.mark_failed(rep, failed, day + timedelta(days=2), "validate_clean: la suite estricta falló (prueba del portal)",
                         config.run_dir(failed))
        rep.dispose()
    finally:
        if old is None:
            os.environ.pop("CAOSKOL_DATA_DIR", None)
        else:
            os.environ["CAOSKOL_DATA_DIR"] = old
    data = PortalData(colegio_url, reportes_url, "pipeline", current, previous, failed)
    data.data_dir = str(data_dir)
    return data


def build(colegio_url: str, reportes_url: str, seed_dir: Path) -> PortalData:
    source = os.environ.get("CAOSKOL_PORTAL_TEST_DATA", "auto")
    if source == "auto":
        source = "pipeline" if pipeline_available() else "handmade"
    data = (build_with_pipeline if source == "pipeline" else build_handmade)(colegio_url, reportes_url, seed_dir)
    data.accounts = {
        "estudiante": (STUDENT_ID, TEST_PASSWORD),
        "profesor": (TEACHER_ID, TEST_PASSWORD),
        "administrador": (ADMIN_ID, TEST_PASSWORD),
    }
    return data


_SHARED: dict[str, PortalData] = {}


def shared(fresh_databases, seed_dir: Path) -> PortalData:
    """One build per test process, shared by tests/portal and the browser tests."""
    if "data" not in _SHARED:
        colegio, reportes = fresh_databases.new("portal")
        _SHARED["data"] = build(colegio, reportes, seed_dir)
    return _SHARED["data"]


def dump(data: PortalData) -> str:
    return json.dumps(data.__dict__, default=str)
