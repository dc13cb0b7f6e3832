"""Both jobs on the school's real file, ../shared/seed-data/US_Dataset.csv.

The file is not a CSV but SQL: an ``INSERT INTO notas (...) VALUES`` line, then one tuple
per line such as ``(1, 'Adan Sanchez', 6, 2, 1, 58, 32, 33),`` (the last ends ``);``). Read
as CSV, science became the string ``33),`` and the old analysis reported NULL science for
everyone. It is parsed here, in the test, with a regex into pandas.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest

from caoskol import schema
from caoskol.spark import correlations_tables, statistics_tables

_INT = r"\s*(NULL|-?\d+)\s*"
# A tuple: integer id, quoted name ('' is an escaped quote in SQL), six integers or NULL.
TUPLE = re.compile(r"^\(\s*(\d+)\s*,\s*'((?:[^']|'')*)'\s*," + ",".join([_INT] * 6) + r"\)\s*[,;]?\s*$")


def parse_seed(path) -> pd.DataFrame:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("INSERT INTO notas")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        m = TUPLE.match(line.strip())
        assert m, f"line {number} is not a notas tuple: {line!r}"
        ident, nombre, *nums = m.groups()
        rows.append([int(ident), nombre.replace("''", "'")] + [None if v == "NULL" else int(v) for v in nums])
    # File columns: id, nombre, grado, num_premios, programa, puntaje_mat, puntaje_ing,
    # puntaje_ciencias - the same order as schema.NOTAS_COLUMNS under our names.
    return pd.DataFrame(rows, columns=list(schema.NOTAS_COLUMNS))


@pytest.fixture(scope="module")
def seed(seed_dir):
    pdf = parse_seed(seed_dir / "US_Dataset.csv")
    assert len(pdf) == 400 and pdf["id"].is_unique
    return pdf


@pytest.fixture(scope="module")
def seed_outputs(seed, students_df):
    df = students_df(seed.to_dict("records"))
    tables = {**statistics_tables(df), **correlations_tables(df)}
    return {name: t.collect() for name, t in tables.items()}


def test_school_wide_math_mean_is_the_known_figure(seed_outputs):
    row = next(r for r in seed_outputs["estadisticas"] if r["ambito"] == "escuela" and r["variable"] == "matematicas")
    assert row["n"] == 400
    assert row["media"] == pytest.approx(60.3775, abs=1e-9)


def test_science_is_not_null(seed_outputs, seed):
    row = next(r for r in seed_outputs["estadisticas"] if r["ambito"] == "escuela" and r["variable"] == "ciencias")
    assert row["n"] == 400 and row["media"] is not None and row["desviacion"] is not None
    assert row["media"] == pytest.approx(seed["ciencias"].mean(), rel=1e-12)
    assert row["desviacion"] == pytest.approx(seed["ciencias"].std(ddof=1), rel=1e-9)


def test_students_per_grade_sum_to_400(seed_outputs):
    per_grade = {r["grado"]: r["n"] for r in seed_outputs["estudiantes_por_grado"]}
    assert sum(per_grade.values()) == 400
    assert per_grade[None] == 0  # every student in this file has a grade
    assert all(per_grade[g] > 0 for g in schema.GRADES)


def test_every_output_is_defined_and_finite(seed_outputs, compare):
    for rows in seed_outputs.values():
        compare.assert_no_nan(rows)
    # No NULL scores and no constant columns in this file: every r is defined.
    assert all(r["r"] is not None and r["n"] > 1 for r in seed_outputs["correlaciones"])


def test_school_wide_correlations_match_pandas(seed_outputs, seed):
    for r in seed_outputs["correlaciones"]:
        if r["ambito"] == "escuela":
            assert r["n"] == 400
            assert r["r"] == pytest.approx(seed[r["variable_x"]].corr(seed[r["variable_y"]]), rel=1e-9)
