"""caoskol.spark.statistics against an independent pandas reference.

The references below are written from the brief, not from the Spark code: pandas
``.mean()``, ``.std(ddof=1)``, ``.value_counts()`` over plain boolean masks, with pandas'
NaN for "undefined" mapped to None.
"""

from __future__ import annotations

import pandas as pd
import pytest
from pyspark.sql import functions as F

from caoskol import config, schema
from caoskol.spark import report_columns
from caoskol.spark.statistics import (
    agregados_programa,
    distribucion_premios,
    estadisticas,
    estudiantes_por_grado,
    histogramas,
    prepare_students,
    statistics_tables,
)


def frame(rows) -> pd.DataFrame:
    """Rows as pandas, NULL as NaN (scores are small integers: exact in float64)."""
    return pd.DataFrame(rows, columns=list(schema.NOTAS_COLUMNS)).astype(
        {c: "float64" for c in schema.NOTAS_COLUMNS if c != "nombre"}
    )


def scopes(pdf: pd.DataFrame):
    """(ambito, grado, students): the school (NULL grades included) and each grade 6..12."""
    yield "escuela", None, pdf
    for g in sorted(set(schema.GRADES) | set(pdf["grado"].dropna().astype(int))):
        yield "grado", g, pdf[pdf["grado"] == g]


def ref_estadisticas(pdf, nn):
    out = []
    for ambito, grado, sub in scopes(pdf):
        for v in schema.STAT_VARIABLES:
            s = sub[v].dropna()
            out.append(
                {
                    "ambito": ambito,
                    "grado": grado,
                    "variable": v,
                    "n": len(s),
                    "media": nn(s.mean()),
                    "desviacion": nn(s.std(ddof=1)),
                    "minimo": nn(s.min()),
                    "maximo": nn(s.max()),
                }
            )
    return out


def ref_estudiantes_por_grado(pdf):
    out = [{"grado": None, "n": int(pdf["grado"].isna().sum())}]
    for g in sorted(set(schema.GRADES) | set(pdf["grado"].dropna().astype(int))):
        out.append({"grado": g, "n": int((pdf["grado"] == g).sum())})
    return out


def ref_distribucion_premios(pdf):
    out = []
    for ambito, grado, sub in scopes(pdf):
        for premios, n in sub["premios"].dropna().astype(int).value_counts().items():
            out.append({"ambito": ambito, "grado": grado, "premios": int(premios), "n": int(n)})
    return out


def ref_histogramas(pdf):
    out = []
    for ambito, grado, sub in scopes(pdf):
        for materia in schema.SUBJECTS:
            for puntaje, n in sub[materia].dropna().astype(int).value_counts().items():
                out.append({"ambito": ambito, "grado": grado, "materia": materia, "puntaje": int(puntaje), "n": int(n)})
    return out


def ref_agregados_programa(pdf, nn, min_group=config.MIN_PROGRAM_GROUP):
    out = []
    for v in schema.STAT_VARIABLES:
        rows = []
        for programa, sub in pdf.dropna(subset=["programa"]).groupby("programa"):
            s = sub[v].dropna()
            if len(s) >= min_group:
                rows.append({"programa": int(programa), "variable": v, "n": len(s), "media": nn(s.mean()), "desviacion": nn(s.std(ddof=1))})
        # What the school-wide n minus the published groups leaves must not be a small group.
        residual = pdf[v].notna().sum() - sum(r["n"] for r in rows)
        if 0 < residual < min_group and rows:
            rows.remove(min(rows, key=lambda r: (r["n"], r["programa"])))
        out += rows
    return out


def by_key(rows, **key):
    """The one output row matching ``key``."""
    found = [r for r in rows if all(r[k] == v for k, v in key.items())]
    assert len(found) == 1, (key, found)
    return found[0]


# --- every function against the reference, on each dataset -----------------------------


def test_spark_session_is_ansi(spark):
    assert spark.conf.get("spark.sql.ansi.enabled") == "true"


def test_estadisticas_matches_pandas(dataset, students_df, compare):
    _, rows = dataset
    got = estadisticas(students_df(rows)).collect()
    compare.assert_no_nan(got)
    compare.assert_rows(got, ref_estadisticas(frame(rows), compare.nn), ("ambito", "grado", "variable"))


def test_estudiantes_por_grado_matches_pandas(dataset, students_df, compare):
    _, rows = dataset
    got = estudiantes_por_grado(students_df(rows)).collect()
    compare.assert_rows(got, ref_estudiantes_por_grado(frame(rows)), ("grado",))
    assert sum(r["n"] for r in got) == len(rows)


def test_distribucion_premios_matches_pandas(dataset, students_df, compare):
    _, rows = dataset
    got = distribucion_premios(students_df(rows)).collect()
    compare.assert_rows(got, ref_distribucion_premios(frame(rows)), ("ambito", "grado", "premios"))


def test_histogramas_matches_pandas(dataset, students_df, compare):
    _, rows = dataset
    got = histogramas(students_df(rows)).collect()
    compare.assert_rows(got, ref_histogramas(frame(rows)), ("ambito", "grado", "materia", "puntaje"))


def test_agregados_programa_matches_pandas(dataset, students_df, compare):
    _, rows = dataset
    got = agregados_programa(students_df(rows)).collect()
    compare.assert_no_nan(got)
    compare.assert_rows(got, ref_agregados_programa(frame(rows), compare.nn), ("programa", "variable"))


# --- the edge cases, spelled out ------------------------------------------------------


@pytest.fixture(scope="module")
def stats(synthetic_rows, students_df):
    return estadisticas(students_df(synthetic_rows)).collect()


def test_grade_with_one_student_has_null_stddev(stats):
    for v in schema.STAT_VARIABLES:
        row = by_key(stats, ambito="grado", grado=12, variable=v)
        assert row["n"] == 1
        assert row["media"] is not None and row["media"] == row["minimo"] == row["maximo"]
        assert row["desviacion"] is None  # undefined for one value: NULL, not NaN, not 0


def test_constant_column_has_zero_stddev_not_null(stats):
    row = by_key(stats, ambito="grado", grado=10, variable="premios")
    assert row["n"] > 1 and row["media"] == 2.0 and row["desviacion"] == 0.0


def test_all_null_variable_gives_n_zero_and_null_statistics(stats):
    row = by_key(stats, ambito="grado", grado=9, variable="ciencias")
    assert row["n"] == 0
    assert [row[c] for c in ("media", "desviacion", "minimo", "maximo")] == [None] * 4


def test_null_grades_are_in_escuela_only(synthetic_rows, stats, students_df):
    graded = [r for r in synthetic_rows if r["grado"] is not None]
    ungraded = len(synthetic_rows) - len(graded)
    assert ungraded == 7
    # Counted as the NULL ("sin grado") row of estudiantes_por_grado...
    per_grade = {r["grado"]: r["n"] for r in estudiantes_por_grado(students_df(synthetic_rows)).collect()}
    assert per_grade[None] == ungraded
    assert sum(n for g, n in per_grade.items() if g is not None) == len(graded)
    # School-wide n counts the ungraded students' values; the grade scopes do not.
    present = [r for r in synthetic_rows if r["matematicas"] is not None]
    escuela = by_key(stats, ambito="escuela", grado=None, variable="matematicas")
    grados = [r for r in stats if r["ambito"] == "grado" and r["variable"] == "matematicas"]
    assert escuela["n"] == len(present)
    assert sum(r["n"] for r in grados) == len([r for r in present if r["grado"] is not None])
    assert {r["grado"] for r in stats if r["ambito"] == "grado"} == set(schema.GRADES)
    assert {r["grado"] for r in stats if r["ambito"] == "escuela"} == {None}


def test_program_of_nine_is_suppressed_and_of_ten_is_published(synthetic_rows, students_df):
    sizes = pd.Series([r["programa"] for r in synthetic_rows]).value_counts(dropna=False)
    assert sizes[0] == 10 and sizes[1] == 9  # the fixture's design
    got = agregados_programa(students_df(synthetic_rows)).collect()
    assert config.MIN_PROGRAM_GROUP == 10
    assert {r["variable"] for r in got if r["programa"] == 0} == set(schema.STAT_VARIABLES)
    assert all(r["n"] == 10 for r in got if r["programa"] == 0)
    assert not [r for r in got if r["programa"] == 1]
    assert all(r["n"] >= config.MIN_PROGRAM_GROUP for r in got)
    assert None not in {r["programa"] for r in got}


def test_program_suppression_is_per_variable(students_df):
    # Ten students in program 0, one of them without a math score: math n = 9 is withheld,
    # the other variables (n = 10) are published.
    rows = [
        {
            "id": i,
            "nombre": "x",
            "grado": 7,
            "premios": 1,
            "programa": 0,
            "matematicas": None if i == 0 else 50 + i,
            "ingles": 60,
            "ciencias": 70 + i,
        }
        for i in range(10)
    ]
    got = agregados_programa(students_df(rows)).collect()
    assert {r["variable"]: r["n"] for r in got} == {"premios": 10, "ingles": 10, "ciencias": 10}
    assert by_key(got, variable="ingles")["desviacion"] == 0.0


def _program_rows(sizes: dict) -> list[dict]:
    rows, i = [], 0
    for programa, size in sizes.items():
        for _ in range(size):
            i += 1
            rows.append({"id": i, "nombre": "x", "grado": 6 + i % 7, "premios": i % 4, "programa": programa,
                         "matematicas": (i * 37) % 101, "ingles": (i * 53) % 101, "ciencias": (i * 71) % 101})
    return rows


def test_a_withheld_group_cannot_be_derived_by_subtraction(students_df):
    # Programs of 10, 9 and 30 and nobody without a program: school total minus the two
    # published programs would give the 9 exactly. The 10 is withheld too.
    got = agregados_programa(students_df(_program_rows({0: 10, 1: 9, 3: 30}))).collect()
    assert {r["programa"] for r in got} == {3}
    # With 5 students without a program, subtraction yields 9 + 5 = 14 values: no group.
    got = agregados_programa(students_df(_program_rows({0: 10, 1: 9, 3: 30, None: 5}))).collect()
    assert {r["programa"] for r in got} == {0, 3}
    # Everyone in published programs: nothing to derive, nothing more withheld.
    got = agregados_programa(students_df(_program_rows({0: 10, 3: 30}))).collect()
    assert {r["programa"] for r in got} == {0, 3}


def test_empty_input(students_df):
    tables = {name: df.collect() for name, df in statistics_tables(students_df([])).items()}
    assert len(tables["estadisticas"]) == (1 + len(schema.GRADES)) * len(schema.STAT_VARIABLES)
    assert all(r["n"] == 0 and r["media"] is None and r["desviacion"] is None for r in tables["estadisticas"])
    assert {r["grado"]: r["n"] for r in tables["estudiantes_por_grado"]} == {None: 0, **{g: 0 for g in schema.GRADES}}
    assert tables["distribucion_premios"] == []
    assert tables["histogramas"] == []
    assert tables["agregados_programa"] == []


# --- shape and input contract ---------------------------------------------------------


def test_outputs_have_exactly_the_reporting_columns_and_types(synthetic_rows, students_df):
    tables = statistics_tables(students_df(synthetic_rows))
    assert list(tables) == [
        "estadisticas",
        "estudiantes_por_grado",
        "distribucion_premios",
        "histogramas",
        "agregados_programa",
    ]
    doubles = {"media", "desviacion", "minimo", "maximo"}
    strings = {"ambito", "variable", "materia"}
    for name, df in tables.items():
        assert df.columns == report_columns(name)
        for field in df.schema.fields:
            want = "double" if field.name in doubles else "string" if field.name in strings else "bigint"
            assert field.dataType.simpleString() == want, (name, field)


def test_input_with_int32_and_all_null_void_column_is_accepted(spark, compare):
    # Parquet written by another tool may hold int32, and an all-NULL column may arrive with
    # Spark's NULL ("void") type; both are integers in disguise.
    df = spark.createDataFrame(
        [(1, "a", 6, 1, 0, 50, 60), (2, "b", 6, 2, 0, 70, 80)],
        "id int, nombre string, grado int, premios int, programa int, matematicas int, ingles int",
    ).withColumn("ciencias", F.lit(None))
    assert dict(df.dtypes)["ciencias"] == "void"
    got = estadisticas(df).collect()
    compare.assert_no_nan(got)
    assert by_key(got, ambito="grado", grado=6, variable="ciencias")["n"] == 0
    assert by_key(got, ambito="grado", grado=6, variable="matematicas")["media"] == 60.0


def test_float_columns_of_whole_numbers_are_read_as_integers(spark, compare):
    # pandas writes a nullable integer column as float64 with NaN unless told Int64: NaN is
    # its NULL, and 58.0 is 58.
    nan = float("nan")
    df = spark.createDataFrame(
        [(1, "a", 6.0, 1.0, 0.0, 50.0, 60.0, nan), (2, "b", nan, 2.0, 0.0, 70.0, 80.0, nan)],
        "id long, nombre string, grado double, premios double, programa double,"
        " matematicas double, ingles double, ciencias float",
    )
    prepared = prepare_students(df)
    assert set(dict(prepared.dtypes).values()) == {"bigint"}
    assert [r.asDict() for r in prepared.collect()] == [
        {"id": 1, "grado": 6, "premios": 1, "programa": 0, "matematicas": 50, "ingles": 60, "ciencias": None},
        {"id": 2, "grado": None, "premios": 2, "programa": 0, "matematicas": 70, "ingles": 80, "ciencias": None},
    ]
    got = estadisticas(df).collect()
    compare.assert_no_nan(got)
    assert by_key(got, ambito="escuela", grado=None, variable="ciencias")["n"] == 0
    assert by_key(got, ambito="escuela", grado=None, variable="matematicas")["media"] == 60.0


@pytest.mark.parametrize("bad", [58.5, float("inf"), 1e300])
def test_non_integer_scores_fail_the_job_by_name(spark, bad):
    df = spark.createDataFrame(
        [(1, "a", 6, 1, 0, bad, 60, 70)],
        "id long, nombre string, grado long, premios long, programa long, matematicas double, ingles long, ciencias long",
    )
    with pytest.raises(Exception, match="matematicas is not an integer"):
        estadisticas(df).collect()


def test_text_or_missing_columns_are_refused(spark, students_df):
    df = students_df([]).withColumn("matematicas", F.col("matematicas").cast("string"))
    with pytest.raises(TypeError, match="matematicas"):
        prepare_students(df)
    with pytest.raises(ValueError, match="ciencias"):
        prepare_students(students_df([]).drop("ciencias"))


def test_undefined_stays_null_with_legacy_statistical_aggregate(spark, synthetic_rows, students_df, compare):
    # With spark.sql.legacy.statisticalAggregate=true Spark returns NaN for the sample
    # standard deviation of one value (and r of one pair). The jobs' NaN guard keeps NULL.
    from caoskol.spark.correlations import correlaciones

    df = students_df(synthetic_rows)
    spark.conf.set("spark.sql.legacy.statisticalAggregate", "true")
    try:
        raw = df.where("grado = 12").agg(F.stddev_samp("matematicas").alias("s")).first()["s"]
        assert raw != raw, "expected Spark's legacy NaN; the guard below would then be untested"
        stats, corr = estadisticas(df).collect(), correlaciones(df).collect()
    finally:
        spark.conf.unset("spark.sql.legacy.statisticalAggregate")
    compare.assert_no_nan(stats + corr)
    assert by_key(stats, ambito="grado", grado=12, variable="matematicas")["desviacion"] is None
    assert all(r["r"] is None for r in corr if r["grado"] == 12)
