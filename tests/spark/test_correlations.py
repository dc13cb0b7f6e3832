"""caoskol.spark.correlations against pandas ``Series.corr`` (Pearson, pairwise complete)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import functions as F

from caoskol import schema
from caoskol.spark import report_columns
from caoskol.spark.correlations import CORRELATION_PAIRS, correlaciones, correlations_tables

# The pairs the brief asks for, written out independently of the module's constant.
EXPECTED_PAIRS = [
    ("premios", "matematicas"),
    ("premios", "ingles"),
    ("premios", "ciencias"),
    ("matematicas", "ingles"),
    ("matematicas", "ciencias"),
    ("ingles", "ciencias"),
]


def frame(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(schema.NOTAS_COLUMNS)).astype(
        {c: "float64" for c in schema.NOTAS_COLUMNS if c != "nombre"}
    )


def ref_correlaciones(pdf, nn):
    grades = sorted(set(schema.GRADES) | set(pdf["grado"].dropna().astype(int)))
    scopes = [("escuela", None, pdf)] + [("grado", g, pdf[pdf["grado"] == g]) for g in grades]
    out = []
    for ambito, grado, sub in scopes:
        for x, y in EXPECTED_PAIRS:
            both = sub[[x, y]].dropna()
            with np.errstate(all="ignore"):  # constant columns: numpy warns, pandas says NaN
                r = both[x].corr(both[y]) if len(both) >= 2 else float("nan")
            out.append({"ambito": ambito, "grado": grado, "variable_x": x, "variable_y": y, "n": len(both), "r": nn(r)})
    return out


def by_key(rows, **key):
    found = [r for r in rows if all(r[k] == v for k, v in key.items())]
    assert len(found) == 1, (key, found)
    return found[0]


def test_pairs_are_awards_by_subject_and_subject_pairs():
    assert list(CORRELATION_PAIRS) == EXPECTED_PAIRS


def test_correlaciones_matches_pandas(dataset, students_df, compare):
    _, rows = dataset
    got = correlaciones(students_df(rows)).collect()
    compare.assert_no_nan(got)
    keys = ("ambito", "grado", "variable_x", "variable_y")
    compare.assert_rows(got, ref_correlaciones(frame(rows), compare.nn), keys)
    assert all(r["r"] is None or -1.0 <= r["r"] <= 1.0 for r in got)


@pytest.fixture(scope="module")
def corr(synthetic_rows, students_df):
    return correlaciones(students_df(synthetic_rows)).collect()


def test_constant_column_gives_null_r(corr):
    for s in schema.SUBJECTS:
        row = by_key(corr, ambito="grado", grado=10, variable_x="premios", variable_y=s)
        assert row["n"] > 2 and row["r"] is None


def test_single_student_gives_null_r(corr):
    rows = [r for r in corr if r["grado"] == 12]
    assert len(rows) == len(EXPECTED_PAIRS)
    assert all(r["n"] == 1 and r["r"] is None for r in rows)


def test_all_null_science_gives_n_zero_null_r(corr):
    rows = [r for r in corr if r["grado"] == 9 and "ciencias" in (r["variable_x"], r["variable_y"])]
    assert len(rows) == 3 and all(r["n"] == 0 and r["r"] is None for r in rows)


def test_null_grades_count_in_escuela_only(synthetic_rows, corr):
    def pairs(rs):
        return sum(1 for r in rs if r["matematicas"] is not None and r["ingles"] is not None)

    escuela = by_key(corr, ambito="escuela", variable_x="matematicas", variable_y="ingles")
    assert escuela["n"] == pairs(synthetic_rows)
    math_english = [r for r in corr if (r["variable_x"], r["variable_y"]) == ("matematicas", "ingles")]
    per_grade = sum(r["n"] for r in math_english if r["ambito"] == "grado")
    assert per_grade == pairs([r for r in synthetic_rows if r["grado"] is not None]) < escuela["n"]


def test_perfectly_linear_data_stays_within_unit_interval(students_df):
    # Each grade's math is an exact linear function of its awards (and English = science =
    # awards), so every such r is +-1 exactly in real arithmetic. Spark's one-pass
    # co-moment algorithm overshoots by an ulp or a few here (1.0000000000000002); the job
    # clamps to [-1, 1].
    rng = np.random.default_rng(0)
    rows, i = [], 0
    for grado in schema.GRADES:
        a, b = int(rng.choice([-5, -3, -2, 2, 3, 5, 7])), int(rng.integers(-50, 50))
        for x in rng.integers(0, 100, size=int(rng.integers(5, 60))):
            i += 1
            x = int(x)
            rows.append(
                {"id": i, "nombre": "x", "grado": grado, "premios": x, "programa": 0}
                | {"matematicas": a * x + b, "ingles": x, "ciencias": x}
            )
    df = students_df(rows)

    raw = df.groupBy("grado").agg(*[F.corr(x, y).alias(f"{x}_{y}") for x, y in EXPECTED_PAIRS]).collect()
    overshoot = [v for row in raw for v in list(row)[1:] if v is not None and abs(v) > 1.0]
    assert overshoot, "plain F.corr no longer exceeds |1| on this data: the clamp may be unnecessary now"

    got = [r for r in correlaciones(df).collect() if r["ambito"] == "grado" and r["variable_x"] == "premios"]
    assert len(got) == len(schema.GRADES) * len(schema.SUBJECTS)
    for r in got:
        assert r["r"] is not None and abs(r["r"]) <= 1.0 and abs(r["r"]) == pytest.approx(1.0, abs=1e-12), r


def test_empty_input(students_df):
    got = correlaciones(students_df([])).collect()
    assert len(got) == (1 + len(schema.GRADES)) * len(EXPECTED_PAIRS)
    assert all(r["n"] == 0 and r["r"] is None for r in got)


def test_output_has_exactly_the_reporting_columns_and_types(synthetic_rows, students_df):
    tables = correlations_tables(students_df(synthetic_rows))
    assert list(tables) == ["correlaciones"]
    df = tables["correlaciones"]
    assert df.columns == report_columns("correlaciones")
    assert dict(df.dtypes) == {
        "ambito": "string",
        "grado": "bigint",
        "variable_x": "string",
        "variable_y": "string",
        "n": "bigint",
        "r": "double",
    }
