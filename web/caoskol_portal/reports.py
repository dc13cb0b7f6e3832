"""What the dashboards show, derived from the published run and cached by its version.

Reports change once a night. Each request asks the database one small question (which run
is current, which is the latest; ``queries.Store.report_state``) and everything derived
from the current run is served from a per-process cache keyed by that run's *version*
(run id + the time the pointer moved to it), so a new or re-published run is visible at
once and the same report is not read again on every request.

Nothing here computes a statistic over all students: numbers come from the reporting
tables as published. The only arithmetic is placing one student's score in their grade's
published histogram (a percentile) and summing published counts (students with/without
awards).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable

from caoskol import config as caoskol_config
from caoskol import schema

from .queries import Store

SUBJECT_LABELS = {"matematicas": "Matemáticas", "ingles": "Inglés", "ciencias": "Ciencias"}
VARIABLE_LABELS = {**SUBJECT_LABELS, "premios": "Premios"}
MONTHS = (
    "enero", "febrero", "marzo", "abril", "mayo", "junio",
    "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre",
)


def fecha_larga(value: datetime | None) -> str:
    if value is None:
        return "fecha desconocida"
    return f"{value.day} de {MONTHS[value.month - 1]} de {value.year}"


def grade_label(grado: int | None) -> str:
    return "Sin grado" if grado is None else f"{grado}°"


class ReportCache:
    """A small thread-safe LRU of derived report pieces; keys start with the run version."""

    def __init__(self, maxsize: int = 256) -> None:
        self.maxsize = maxsize
        self._data: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_or_compute(self, key: tuple, compute: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                self.hits += 1
                return self._data[key]
        value = compute()  # outside the lock: a slow query must not block other threads
        with self._lock:
            self.misses += 1
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


@dataclass(frozen=True)
class ReportState:
    run_id: str | None
    version: str | None
    fecha: datetime | None
    ultima_run_id: str | None
    ultima_estado: str | None
    ultima_fecha: datetime | None

    @property
    def publicado(self) -> bool:
        return self.run_id is not None

    @property
    def fecha_texto(self) -> str:
        return fecha_larga(self.fecha)

    @property
    def nueva_fallida(self) -> bool:
        """The most recent run is not the one shown, and it failed."""
        return self.ultima_estado == "fallida" and self.ultima_run_id != self.run_id

    @property
    def nueva_en_curso(self) -> bool:
        return self.ultima_estado == "en_curso" and self.ultima_run_id != self.run_id

    def as_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "fecha_logica": self.fecha.isoformat() if self.fecha else None,
            "datos_del": self.fecha_texto if self.publicado else None,
            "ultima_ejecucion": {
                "run_id": self.ultima_run_id,
                "estado": self.ultima_estado,
                "fecha_logica": self.ultima_fecha.isoformat() if self.ultima_fecha else None,
            },
            "nueva_ejecucion_fallida": self.nueva_fallida,
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "ReportState":
        run_id = row.get("actual")
        publicado = row.get("publicado_en")
        version = f"{run_id}@{publicado.isoformat() if publicado else ''}" if run_id else None
        return cls(
            run_id=run_id,
            version=version,
            fecha=row.get("actual_fecha"),
            ultima_run_id=row.get("ultima"),
            ultima_estado=row.get("ultima_estado"),
            ultima_fecha=row.get("ultima_fecha"),
        )


def _num(v: Any) -> float | None:
    return None if v is None else float(v)


def coarse_count(n: int, base: int = caoskol_config.PROGRAM_COUNT_BASE) -> int:
    """n to the nearest multiple of ``base``, halves up (12 -> 10, 13 -> 15, 125 -> 125)."""
    return int((Decimal(n) / base).quantize(Decimal(1), rounding=ROUND_HALF_UP)) * base


def coarse_value(v: Any, decimals: int = caoskol_config.PROGRAM_VALUE_DECIMALS) -> float | None:
    """A mean or deviation rounded half up (Decimal: 61.5 -> 62, never banker's 62/61)."""
    if v is None:
        return None
    return float(Decimal(str(v)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


def trend_labels(runs: list[tuple[str, datetime | None]]) -> list[str]:
    """A label per run on the trend's axis: its date, with the time (UTC) where two runs share
    a date (a manual re-run the same day), so no two points read the same."""
    days = [f.strftime("%Y-%m-%d") if f else None for _rid, f in runs]
    return [
        rid if f is None else (f.strftime("%Y-%m-%d %H:%M") if days.count(day) > 1 else day)
        for (rid, f), day in zip(runs, days)
    ]


class Reports:
    def __init__(self, store: Store, cache: ReportCache, state_ttl: float = 0.0) -> None:
        self.store = store
        self.cache = cache
        # How long one process reuses the answer to "which run is current" (seconds). 0 asks
        # on every request; a second keeps a new run visible "at once" for people while a
        # busy worker asks MySQL once a second instead of once per request.
        self.state_ttl = state_ttl
        self._state: tuple[float, ReportState] | None = None
        self._state_lock = threading.Lock()
        # Per-student "en revisión" lookups (one student, one page of the table), keyed by run
        # version like the report data but kept apart so that many students' entries never
        # push the shared report pieces out.
        self.revision_cache = ReportCache(max(1024, cache.maxsize * 4))
        # Whole rendered pages of one session (the teacher dashboard), kept apart too: one
        # entry per session and grade filter, and they must never evict the report pieces.
        self.page_cache = ReportCache(max(1024, cache.maxsize * 4))

    def state(self) -> ReportState:
        if self.state_ttl > 0:
            now = time.monotonic()
            held = self._state
            if held is not None and now - held[0] < self.state_ttl:
                return held[1]
            state = ReportState.from_row(self.store.report_state())
            with self._state_lock:
                self._state = (now, state)
            return state
        return ReportState.from_row(self.store.report_state())

    def _cached(self, state: ReportState, name: str, compute: Callable[[], Any], *args: Any) -> Any:
        return self.cache.get_or_compute((state.version, name, *args), compute)

    # --- raw published tables, indexed ---------------------------------------------------

    def tables(self, state: ReportState) -> dict[str, Any]:
        """The current run's small tables, indexed for the views (cached per run version)."""

        def compute() -> dict[str, Any]:
            run = state.run_id
            stats = {}
            for r in self.store.estadisticas(run):
                grado = r["grado"] if r["ambito"] == "grado" else None
                stats[(r["ambito"], grado, r["variable"])] = {
                    "n": r["n"],
                    "media": _num(r["media"]),
                    "desviacion": _num(r["desviacion"]),
                    "minimo": _num(r["minimo"]),
                    "maximo": _num(r["maximo"]),
                }
            premios: dict[tuple, dict[int, int]] = {}
            for r in self.store.distribucion_premios(run):
                grado = r["grado"] if r["ambito"] == "grado" else None
                premios.setdefault((r["ambito"], grado), {})[int(r["premios"])] = int(r["n"])
            corr = {}
            for r in self.store.correlaciones(run):
                grado = r["grado"] if r["ambito"] == "grado" else None
                pair = frozenset((r["variable_x"], r["variable_y"]))
                corr[(r["ambito"], grado, pair)] = {"n": int(r["n"]), "r": _num(r["r"])}
            por_grado = [
                {"grado": r["grado"], "etiqueta": grade_label(r["grado"]), "n": int(r["n"])}
                for r in self.store.estudiantes_por_grado(run)
            ]
            por_grado.sort(key=lambda r: (r["grado"] is None, r["grado"] or 0))
            grades = sorted({g for (_a, g, _v) in stats if g is not None} | {r["grado"] for r in por_grado if r["grado"] is not None})
            return {"stats": stats, "premios": premios, "corr": corr, "por_grado": por_grado, "grados": grades}

        return self._cached(state, "tables", compute)

    def histograms(self, state: ReportState) -> dict[tuple, list[tuple[int, int]]]:
        def compute() -> dict[tuple, list[tuple[int, int]]]:
            out: dict[tuple, list[tuple[int, int]]] = {}
            for r in self.store.histogramas(state.run_id):
                grado = r["grado"] if r["ambito"] == "grado" else None
                out.setdefault((r["ambito"], grado, r["materia"]), []).append((int(r["puntaje"]), int(r["n"])))
            for v in out.values():
                v.sort()
            return out

        return self._cached(state, "histogramas", compute)

    # --- rows the current run quarantined ("en revisión") ----------------------------

    def en_revision(self, state: ReportState, ids: list[int]) -> dict[int, str]:
        """{student id: reason} for those of ``ids`` that the current run quarantined.

        Such a row is not in the published report (its values failed the checks), so it is
        shown flagged and never compared with the report. One query per page or student,
        cached per run version.
        """
        if not state.publicado:
            return {}
        key = tuple(sorted({int(i) for i in ids if i is not None}))
        if not key:
            return {}
        return self.revision_cache.get_or_compute(
            (state.version, "en_revision", key), lambda: self.store.cuarentena_de(state.run_id, list(key))
        )

    def en_revision_por_grado(self, state: ReportState) -> dict[int | None, int]:
        """How many students of the table the current run quarantined, per grade (cached)."""
        if not state.publicado:
            return {}
        return self._cached(state, "en_revision_por_grado", lambda: self.store.en_revision_por_grado(state.run_id))

    def en_revision_total(self, state: ReportState, grado: int | None = None, sin_grado: bool = False) -> int:
        counts = self.en_revision_por_grado(state)
        if sin_grado:
            return counts.get(None, 0)
        if grado is not None:
            return counts.get(grado, 0)
        return sum(counts.values())

    # --- teacher / admin dashboard ---------------------------------------------------

    def dashboard(self, state: ReportState, grado: int | None = None) -> dict[str, Any]:
        return self._cached(state, "dashboard", lambda: self._dashboard(state, grado), grado)

    def _dashboard(self, state: ReportState, grado: int | None) -> dict[str, Any]:
        t = self.tables(state)
        ambito, g = ("grado", grado) if grado is not None else ("escuela", None)
        promedios = []
        for m in schema.SUBJECTS:
            s = t["stats"].get((ambito, g, m)) or {}
            promedios.append({"materia": m, "etiqueta": SUBJECT_LABELS[m], **{k: s.get(k) for k in ("n", "media", "desviacion", "minimo", "maximo")}})
        dist = t["premios"].get((ambito, g), {})
        con = sum(n for p, n in dist.items() if p > 0)
        sin = dist.get(0, 0)
        correl = []
        for m in schema.SUBJECTS:
            c = t["corr"].get((ambito, g, frozenset(("premios", m))))
            correl.append({
                "materia": m,
                "etiqueta": SUBJECT_LABELS[m],
                "r": c["r"] if c else None,
                "n": c["n"] if c else 0,
                "definido": bool(c and c["r"] is not None),
            })
        grades = t["grados"]
        por_grado_medias = {
            m: [(t["stats"].get(("grado", gg, m)) or {}).get("media") for gg in grades] for m in schema.SUBJECTS
        }
        return {
            "grado": grado,
            "ambito": ambito,
            "hay_datos": bool(t["stats"]),
            "materias": [{"clave": m, "etiqueta": SUBJECT_LABELS[m]} for m in schema.SUBJECTS],
            "promedios": promedios,
            "premios": {
                "con": con,
                "sin": sin,
                "distribucion": [{"premios": p, "n": n} for p, n in sorted(dist.items())],
            },
            "grados": grades,
            "medias_por_grado": {
                "grados": grades,
                "etiquetas": [grade_label(gg) for gg in grades],
                "series": [{"materia": m, "etiqueta": SUBJECT_LABELS[m], "medias": por_grado_medias[m]} for m in schema.SUBJECTS],
            },
            "estudiantes_por_grado": t["por_grado"],
            "correlaciones": correl,
        }

    def trend(self, state: ReportState) -> dict[str, Any]:
        """Average per subject across successful runs (shown when there is more than one)."""

        def compute() -> dict[str, Any]:
            rows = self.store.tendencia()
            runs: list[tuple[str, datetime]] = []
            values: dict[tuple[str, str], float | None] = {}
            for r in rows:
                if not runs or runs[-1][0] != r["run_id"]:
                    runs.append((r["run_id"], r["fecha_logica"]))
                values[(r["run_id"], r["variable"])] = _num(r["media"])
            return {
                "ejecuciones": [{"run_id": rid, "fecha": f.isoformat() if f else None, "etiqueta": etiqueta} for (rid, f), etiqueta in zip(runs, trend_labels(runs))],
                "series": [
                    {"materia": m, "etiqueta": SUBJECT_LABELS[m], "medias": [values.get((rid, m)) for rid, _f in runs]}
                    for m in schema.SUBJECTS
                ],
            }

        key = (state.version, state.ultima_run_id, state.ultima_estado)
        return self.cache.get_or_compute(("tendencia", *key), compute)

    # --- a student's own page --------------------------------------------------------

    def percentile(self, state: ReportState, grado: int | None, materia: str, puntaje: int | None) -> float | None:
        """Mid-rank percentile of a score in the grade's published histogram (None if unknown)."""
        if grado is None or puntaje is None or not state.publicado:
            return None
        hist = self.histograms(state).get(("grado", grado, materia))
        if not hist:
            return None
        total = sum(n for _p, n in hist)
        if total == 0:
            return None
        below = sum(n for p, n in hist if p < puntaje)
        equal = sum(n for p, n in hist if p == puntaje)
        return round(100.0 * (below + 0.5 * equal) / total, 1)

    def student_view(self, state: ReportState, student: dict[str, Any]) -> dict[str, Any]:
        """A student's values next to their grade's published numbers.

        If the current run quarantined the student's row ("en revisión"), the values are
        shown as recorded but without comparison: no grade average, no percentile (the row is
        not in the report, and a percentile of an out-of-range value means nothing).
        """
        grado = student.get("grado")
        motivo = self.en_revision(state, [student["id"]]).get(student["id"]) if student.get("id") is not None else None
        comparar = motivo is None
        t = self.tables(state) if state.publicado and comparar else {"stats": {}}
        materias = []
        for m in schema.SUBJECTS:
            s = t["stats"].get(("grado", grado, m)) if grado is not None else None
            materias.append({
                "materia": m,
                "etiqueta": SUBJECT_LABELS[m],
                "puntaje": student.get(m),
                "media_grado": s["media"] if s else None,
                "n_grado": s["n"] if s else None,
                "percentil": self.percentile(state, grado, m, student.get(m)) if comparar else None,
            })
        sp = t["stats"].get(("grado", grado, "premios")) if grado is not None else None
        return {
            "estudiante": {k: student.get(k) for k in schema.PUBLIC_STUDENT_COLUMNS},
            "grado_etiqueta": grade_label(grado),
            "materias": materias,
            "premios": {"cantidad": student.get("premios"), "media_grado": sp["media"] if sp else None},
            "en_revision": {"motivo": motivo} if motivo is not None else None,
        }

    # --- administrator ----------------------------------------------------------------

    def program_aggregates(self, state: ReportState) -> list[dict[str, Any]]:
        def compute() -> list[dict[str, Any]]:
            groups: dict[int, dict[str, Any]] = {}
            for r in self.store.agregados_programa(state.run_id):
                if r["n"] < caoskol_config.MIN_PROGRAM_GROUP:
                    continue  # never shown, whatever was published
                code = int(r["programa"])
                g = groups.setdefault(code, {"nombre": schema.PROGRAMS.get(code, f"Código {code}"), "variables": {}})
                # Coarsened (config.PROGRAM_COUNT_BASE): comparing two runs must not give away
                # which program one edited or deleted student was in.
                g["variables"][r["variable"]] = {
                    "n": coarse_count(int(r["n"])),
                    "media": coarse_value(r["media"]),
                    "desviacion": coarse_value(r["desviacion"]),
                }
            return [
                {
                    "nombre": g["nombre"],
                    "variables": [
                        {"variable": v, "etiqueta": VARIABLE_LABELS.get(v, v), **g["variables"][v]}
                        for v in schema.STAT_VARIABLES
                        if v in g["variables"]
                    ],
                }
                for _code, g in sorted(groups.items())
            ]

        return self._cached(state, "programas", compute)

    def school_summary(self, state: ReportState) -> dict[str, Any]:
        """The published statistics as plain JSON rows (API)."""

        def compute() -> dict[str, Any]:
            t = self.tables(state)
            stats = [
                {"ambito": a, "grado": g, "variable": v, **vals}
                for (a, g, v), vals in sorted(t["stats"].items(), key=lambda kv: (kv[0][0], kv[0][1] or 0, kv[0][2]))
            ]
            premios = [
                {"ambito": a, "grado": g, "premios": p, "n": n}
                for (a, g), dist in sorted(t["premios"].items(), key=lambda kv: (kv[0][0], kv[0][1] or 0))
                for p, n in sorted(dist.items())
            ]
            corr = [
                {"ambito": a, "grado": g, "variables": sorted(pair), **vals}
                for (a, g, pair), vals in sorted(t["corr"].items(), key=lambda kv: (kv[0][0], kv[0][1] or 0, sorted(kv[0][2])))
            ]
            return {"estadisticas": stats, "distribucion_premios": premios, "correlaciones": corr, "estudiantes_por_grado": t["por_grado"]}

        return self._cached(state, "resumen", compute)
