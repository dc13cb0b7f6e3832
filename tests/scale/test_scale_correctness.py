"""Correctness at scale: 200 000 generated students through the real pipeline.

The generated school (with its defects: NULL grades and science scores, out-of-range
scores, repeated ids, mojibake names) is loaded with the project's loader, a few rows are
made teachers' and an administrator's, and every step runs as the DAG runs it
(``caoskol.pipeline.run_local``: the same ``caoskol.steps`` functions, both Spark jobs
under a real ``spark-submit``), with validation in chunks of 60 000 rows so that the
chunk merge is exercised. The published figures are then compared with a reference
computed here, independently of the pipeline's code: one streaming pass over the
generated CSV with pandas, the loader's and the cleaning policy's rules written out
again, and exact integer sums, so means, standard deviations and correlations are known
to the last bit before being compared to 1e-9 relative.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timezone
from fractions import Fraction
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support import query

from caoskol import pipeline, steps, synthetic
from caoskol.loaders.load import load_files

STUDENTS = 200_000
SEED = 20261130
SUBJECTS = ("matematicas", "ingles", "ciencias")
VARIABLES = SUBJECTS + ("premios",)
PAIRS = tuple(("premios", s) for s in SUBJECTS) + tuple(combinations(SUBJECTS, 2))
# Accounts written for a few ids: the non-students must leave the statistics.
ACCOUNTS = {11: "Profesor", 12: "Profesor", 13: "Administrador", 14: "Estudiante", 15: "estudiante"}
REL = 1e-9
LOGICAL_DATE = datetime(2026, 11, 30, 7, 0, tzinfo=timezone.utc)


# --- the independent reference -----------------------------------------------------------


class Moments:
    """Exact integer sums of one variable (or one pair) in one scope."""

    def __init__(self):
        self.n = self.s = self.q = 0
        self.lo = self.hi = None

    def add(self, x: np.ndarray) -> None:
        if len(x):
            x = x.astype(np.int64)
            self.n += len(x)
            self.s += int(x.sum())
            self.q += int((x * x).sum())
            lo, hi = int(x.min()), int(x.max())
            self.lo = lo if self.lo is None else min(self.lo, lo)
            self.hi = hi if self.hi is None else max(self.hi, hi)

    def mean(self):
        return None if self.n == 0 else self.s / self.n

    def sd(self):
        if self.n < 2:
            return None
        return math.sqrt(float(Fraction(self.n * self.q - self.s * self.s, self.n * (self.n - 1))))


class Comoments:
    def __init__(self):
        self.n = self.sx = self.sy = self.sxx = self.syy = self.sxy = 0

    def add(self, x: np.ndarray, y: np.ndarray) -> None:
        x, y = x.astype(np.int64), y.astype(np.int64)
        self.n += len(x)
        self.sx += int(x.sum())
        self.sy += int(y.sum())
        self.sxx += int((x * x).sum())
        self.syy += int((y * y).sum())
        self.sxy += int((x * y).sum())

    def r(self):
        dx = self.n * self.sxx - self.sx * self.sx
        dy = self.n * self.syy - self.sy * self.sy
        if self.n < 2 or dx == 0 or dy == 0:
            return None
        return (self.n * self.sxy - self.sx * self.sy) / math.sqrt(float(dx * dy))


def reference(notas_csv: Path, roles: dict[int, str]) -> dict:
    """One streaming pass over the generated file: what the report must say."""
    seen = np.zeros(STUDENTS * 2 + 10, dtype=bool)  # ids are 1..N (duplicates re-use them)
    stats = defaultdict(Moments)  # (ambito, grado, variable)
    corr = defaultdict(Comoments)  # (ambito, grado, x, y)
    hist = defaultdict(int)  # (ambito, grado, materia, puntaje)
    awards = defaultdict(int)  # (ambito, grado, premios)
    per_grade = defaultdict(int)  # grado (None: sin grado)
    programs = defaultdict(Moments)  # (programa, variable)
    counts = {"read": 0, "clean": 0, "quarantined": 0, "raw_null_grade": 0}
    dtypes = {c: "Int64" for c in ("id", "grado", "premios", "programa", *SUBJECTS)}
    for chunk in pd.read_csv(notas_csv, dtype={**dtypes, "nombre": "string"}, chunksize=50_000, keep_default_na=False, na_values=[""]):
        ids = chunk["id"].to_numpy(dtype=np.int64)
        # The loader: the first row of an id is stored, later ones are refused.
        first = np.zeros(len(ids), dtype=bool)
        for i, row_id in enumerate(ids):
            if not seen[row_id]:
                seen[row_id] = True
                first[i] = True
        chunk = chunk[first]
        counts["read"] += len(chunk)
        counts["raw_null_grade"] += int(chunk["grado"].isna().sum())
        # The cleaning policy's hard rules, written out again.
        role = chunk["id"].map(lambda i: roles.get(int(i), "estudiante").strip().lower())
        bad = role != "estudiante"
        g = chunk["grado"]
        bad |= g.notna() & ((g < 6) | (g > 12))
        for s in SUBJECTS:
            v = chunk[s]
            bad |= v.notna() & ((v < 0) | (v > 100))
        bad |= chunk["premios"].isna() | (chunk["premios"] < 0)
        bad |= chunk["programa"].notna() & ~chunk["programa"].isin([0, 1, 3])
        bad = bad.fillna(False).to_numpy(dtype=bool)
        counts["quarantined"] += int(bad.sum())
        ok = chunk[~bad]
        counts["clean"] += len(ok)

        grades = ok["grado"]
        for g_value in [None, *range(6, 13)]:
            scope = ("escuela", None) if g_value is None else ("grado", g_value)
            part = ok if g_value is None else ok[(grades == g_value).fillna(False).to_numpy(dtype=bool)]
            for var in VARIABLES:
                col = part[var].dropna().to_numpy(dtype=np.int64)
                stats[(*scope, var)].add(col)
            for x, y in PAIRS:
                both = part[[x, y]].dropna()
                corr[(*scope, x, y)].add(both[x].to_numpy(dtype=np.int64), both[y].to_numpy(dtype=np.int64))
            for s in SUBJECTS:
                for value, n in part[s].dropna().value_counts().items():
                    hist[(*scope, s, int(value))] += int(n)
            for value, n in part["premios"].dropna().value_counts().items():
                awards[(*scope, int(value))] += int(n)
        per_grade[None] += int(grades.isna().sum())
        for value, n in grades.dropna().value_counts().items():
            per_grade[int(value)] += int(n)
        with_program = ok[ok["programa"].notna()]
        for p, group in with_program.groupby("programa"):
            for var in VARIABLES:
                programs[(int(p), var)].add(group[var].dropna().to_numpy(dtype=np.int64))
    return {"stats": stats, "corr": corr, "hist": hist, "awards": awards, "per_grade": per_grade,
            "programs": programs, "counts": counts}


def rel_close(published, expected) -> bool:
    if expected is None or published is None:
        return published is None and expected is None
    return abs(published - expected) <= REL * abs(expected)


# --- the test ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("school")
    summary = synthetic.generate(out, students=STUDENTS, seed=SEED)
    users = out / "usuarios.csv"
    users.write_text("id,nombre,grado,clave,rol\n" + "".join(
        f"{i},Cuenta {i},,clave{i},{rol}\n" for i, rol in ACCOUNTS.items()), encoding="utf-8")
    return {"dir": out, "summary": summary, "notas": out / synthetic.NOTAS_FILE, "usuarios": users}


def test_published_figures_equal_an_independent_reference_at_200k(generated, mysql_urls, tmp_path, monkeypatch):
    colegio, reportes = mysql_urls
    monkeypatch.setenv("CAOSKOL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CAOSKOL_PASSWORD_HASH_METHOD", "pbkdf2:sha256:1000")
    monkeypatch.setenv("CAOSKOL_VALIDATION_CHUNK_ROWS", "60000")
    summary = generated["summary"]
    assert summary.duplicate_id > 100 and summary.out_of_range > 500 and summary.null_grade > 1000

    report = load_files([generated["notas"], generated["usuarios"]], url=colegio)
    assert not any(r.fatal for r in report.results), [r.errors[:3] for r in report.results]

    run_id = "scale_200k"
    result = pipeline.run_local(run_id, LOGICAL_DATE, steps.Connections.from_urls(colegio, reportes), master="local[2]")
    ref = reference(generated["notas"], {i: r for i, r in ACCOUNTS.items()})
    counts = ref["counts"]

    # The run log and the validations count what the reference counts.
    (run,) = query(reportes, "SELECT * FROM ejecuciones WHERE run_id = :r", r=run_id)
    assert run["estado"] == "exitosa"
    assert (run["filas_leidas"], run["filas_limpias"], run["filas_cuarentena"]) == (
        counts["read"], counts["clean"], counts["quarantined"])
    assert counts["read"] == STUDENTS
    raw = result["validate_raw"]
    assert raw["critical_success"] is True
    from caoskol import runs

    raw_meta = runs.read_meta(steps.run_path(run_id), "validate_raw")["expectations"]
    assert raw_meta["tabla_no_vacia"]["observed"] == STUDENTS
    assert raw_meta["grado_nulos"]["unexpected_count"] == counts["raw_null_grade"]
    assert raw_meta["id_unico"]["unexpected_count"] == 0  # the loader kept one row per id
    clean_meta = runs.read_meta(steps.run_path(run_id), "validate_clean")
    assert clean_meta["success"] is True and clean_meta["rows"] == counts["clean"]
    assert query(reportes, "SELECT COUNT(*) AS n FROM cuarentena WHERE run_id = :r", r=run_id)[0]["n"] == counts["quarantined"]

    # estadisticas: every scope and variable.
    published = query(reportes, "SELECT * FROM estadisticas WHERE run_id = :r", r=run_id)
    assert len(published) == 8 * len(VARIABLES)
    for row in published:
        m = ref["stats"][(row["ambito"], row["grado"], row["variable"])]
        key = (row["ambito"], row["grado"], row["variable"])
        assert row["n"] == m.n, key
        assert rel_close(row["media"], m.mean()), (key, row["media"], m.mean())
        assert rel_close(row["desviacion"], m.sd()), (key, row["desviacion"], m.sd())
        assert (row["minimo"], row["maximo"]) == (m.lo, m.hi), key

    # correlaciones: every scope and pair, pairwise deletion.
    published = query(reportes, "SELECT * FROM correlaciones WHERE run_id = :r", r=run_id)
    assert len(published) == 8 * len(PAIRS)
    for row in published:
        c = ref["corr"][(row["ambito"], row["grado"], row["variable_x"], row["variable_y"])]
        assert row["n"] == c.n
        assert rel_close(row["r"], c.r()), (row, c.r())

    # Counts: histograms, awards, students per grade - exactly.
    published = query(reportes, "SELECT ambito, grado, materia, puntaje, n FROM histogramas WHERE run_id = :r", r=run_id)
    assert {(r["ambito"], r["grado"], r["materia"], r["puntaje"]): r["n"] for r in published} == dict(ref["hist"])
    published = query(reportes, "SELECT ambito, grado, premios, n FROM distribucion_premios WHERE run_id = :r", r=run_id)
    assert {(r["ambito"], r["grado"], r["premios"]): r["n"] for r in published} == dict(ref["awards"])
    published = query(reportes, "SELECT grado, n FROM estudiantes_por_grado WHERE run_id = :r", r=run_id)
    assert {r["grado"]: r["n"] for r in published} == dict(ref["per_grade"])

    # Programs: every group is far above the confidentiality threshold here.
    published = query(reportes, "SELECT programa, variable, n, media, desviacion FROM agregados_programa WHERE run_id = :r", r=run_id)
    assert {(r["programa"], r["variable"]) for r in published} == set(ref["programs"])
    for row in published:
        m = ref["programs"][(row["programa"], row["variable"])]
        assert row["n"] == m.n
        assert rel_close(row["media"], m.mean()) and rel_close(row["desviacion"], m.sd()), row
