"""The whole nightly DAG, for real, on the school's own file.

The school's results (../shared/seed-data/US_Dataset.csv) and accounts are loaded into a
fresh MySQL database; `dag.test()` runs every task (spark-submit included); the published
tables are checked against figures computed here with pandas from the file itself.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timezone

import pytest
from support import load_files, parse_dump_reference, query, run_dag

from caoskol.schema import STAT_VARIABLES, SUBJECTS

pytestmark = pytest.mark.e2e

LOGICAL_DATE = datetime(2026, 11, 30, 7, 0, tzinfo=timezone.utc)


def close(a, b, rel=1e-9):
    return a is not None and b is not None and abs(a - b) <= rel * max(1.0, abs(b))


@pytest.fixture()
def school(pipeline_env, seed_dir):
    loaded = load_files(seed_dir / "US_Dataset.csv", seed_dir / "US_Dataset_users.csv")
    # The dump has two names whose letter the file itself lost: warnings, not refusals.
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    return {**pipeline_env, "ref": parse_dump_reference(seed_dir / "US_Dataset.csv")}


def test_nightly_dag_publishes_the_schools_figures_and_reruns_idempotently(school):
    ref = school["ref"]
    rep = school["reportes"]
    assert len(ref) == 400 and ref["matematicas"].mean() == pytest.approx(60.3775, abs=1e-12)

    first_run = run_dag(LOGICAL_DATE)
    assert "success" in str(first_run.state).lower(), first_run.state
    rows_first = query(rep, "SELECT COUNT(*) AS n FROM histogramas")[0]["n"]
    assert rows_first > 0
    # Re-running the same logical date replaces its rows: once, not twice; the run log
    # keeps both runs, the first marked as replaced, and the pointer moves to the second.
    dagrun = run_dag(LOGICAL_DATE)
    assert "success" in str(dagrun.state).lower(), dagrun.state
    assert query(rep, "SELECT COUNT(*) AS n FROM histogramas")[0]["n"] == rows_first
    states = {r["run_id"]: r["estado"] for r in query(rep, "SELECT run_id, estado FROM ejecuciones")}
    assert states == {first_run.run_id: "reemplazada", dagrun.run_id: "exitosa"}
    assert {r["run_id"] for r in query(rep, "SELECT DISTINCT run_id FROM histogramas")} == {dagrun.run_id}

    (run,) = query(rep, "SELECT * FROM ejecuciones WHERE estado = 'exitosa'")
    assert run["estado"] == "exitosa"
    assert (run["filas_leidas"], run["filas_limpias"], run["filas_cuarentena"]) == (400, 400, 0)
    assert run["validacion_cruda_ok"] and run["validacion_limpia_ok"]
    timings = run["tiempos_tareas"]
    timings = timings if isinstance(timings, dict) else __import__("json").loads(timings)
    for task in ("extract", "validate_raw", "clean", "validate_clean", "spark_statistics", "spark_correlations"):
        assert timings.get(task, 0) > 0, (task, timings)
    (pointer,) = query(rep, "SELECT run_id FROM reporte_actual")
    assert pointer["run_id"] == run["run_id"]

    stats = query(rep, "SELECT * FROM estadisticas WHERE run_id = :r", r=run["run_id"])
    school_stats = {s["variable"]: s for s in stats if s["ambito"] == "escuela"}
    assert set(school_stats) == set(STAT_VARIABLES)
    assert close(school_stats["matematicas"]["media"], 60.3775)
    for var in STAT_VARIABLES:
        s, col = school_stats[var], ref[var]
        assert s["n"] == 400
        assert close(s["media"], col.mean()) and close(s["desviacion"], col.std(ddof=1))
        assert (s["minimo"], s["maximo"]) == (col.min(), col.max())
    # The old system reported science as NULL for everyone.
    assert school_stats["ciencias"]["media"] is not None

    per_grade = {(s["grado"], s["variable"]): s for s in stats if s["ambito"] == "grado"}
    for (grade, var), s in per_grade.items():
        col = ref.loc[ref["grado"] == grade, var]
        assert s["n"] == len(col) and close(s["media"], col.mean()) and close(s["desviacion"], col.std(ddof=1))
    assert {g for g, _ in per_grade} == set(ref["grado"].unique())

    counts = {r["grado"]: r["n"] for r in query(rep, "SELECT grado, n FROM estudiantes_por_grado")}
    assert counts.pop(None) == 0  # the "sin grado" line is always published, here empty
    assert counts == ref["grado"].value_counts().to_dict()  # no teacher counted as a grade

    corr = query(rep, "SELECT * FROM correlaciones WHERE ambito = 'escuela'")
    pairs = {(c["variable_x"], c["variable_y"]): c for c in corr}
    for x, y in [("premios", s) for s in SUBJECTS] + list(itertools.combinations(SUBJECTS, 2)):
        c = pairs[(x, y)]
        assert c["n"] == 400 and close(c["r"], ref[x].corr(ref[y]), rel=1e-9)

    hist = query(rep, "SELECT grado, materia, CAST(SUM(n) AS SIGNED) AS n FROM histogramas WHERE ambito='grado' GROUP BY grado, materia")
    for h in hist:
        assert h["n"] == (ref["grado"] == h["grado"]).sum()

    awards = {r["premios"]: r["n"] for r in query(rep, "SELECT premios, n FROM distribucion_premios WHERE ambito='escuela'")}
    assert awards == ref["premios"].value_counts().to_dict()

    programs = query(rep, "SELECT programa, variable, n, media FROM agregados_programa")
    expected = ref.groupby("programa")["matematicas"].agg(["count", "mean"])
    published = {p["programa"]: p for p in programs if p["variable"] == "matematicas"}
    assert set(published) == set(expected[expected["count"] >= 10].index)
    for code, p in published.items():
        assert p["n"] == expected.loc[code, "count"] and close(p["media"], expected.loc[code, "mean"])
