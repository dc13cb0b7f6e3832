"""Fixtures for the Spark jobs: one local SparkSession for the whole test session.

The jobs are pure DataFrame -> DataFrame functions, so each test builds a small DataFrame,
calls one function and compares the collected rows with an independent pandas/numpy
reference written in the test module. Helpers shared by the modules are exposed as
fixtures (pytest runs with --import-mode=importlib, so test modules cannot import each
other or this file).
"""

from __future__ import annotations

import math
import os
import random
import sys

import pytest

from caoskol import schema

# Spark's Python workers (and spark-submit in test_apps.py) must use this venv's
# interpreter, which has pyspark and the project's dependencies.
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
# Local-only tests: bind to loopback instead of whatever the hostname resolves to.
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")


# pyspark 4.3 warns on import that it "does not yet fully support pandas >= 3.0.0". The
# jobs use no pandas interop (no toPandas, no pandas UDFs, no Arrow); the tests only build
# their pandas references from plain Python rows. The warning is about code we don't run.
def pytest_configure(config):
    config.addinivalue_line("filterwarnings", "ignore:PySpark does not yet fully support pandas:FutureWarning")


# Spark types the jobs receive: what `clean` writes (pandas nullable Int64 -> Parquet int64).
STUDENTS_DDL = ", ".join(f"{c} {'string' if c == 'nombre' else 'bigint'}" for c in schema.NOTAS_COLUMNS)


@pytest.fixture(scope="session")
def spark():
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("caoskol-tests")
        # Spark 4's default, set explicitly: the jobs must not divide by zero or cast unsafely.
        .config("spark.sql.ansi.enabled", "true")
        # Results are a few hundred rows: 200 shuffle partitions would only add task overhead.
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "1g")
        # Many tiny queries: the C2 JIT costs more CPU than it saves here (measured ~25%
        # faster suite on a 2-core machine). Test-only; production keeps the JVM defaults.
        .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def students_df(spark):
    """Build the cleaned-students DataFrame from dicts keyed by NOTAS_COLUMNS."""

    def build(rows):
        data = [tuple(r.get(c) for c in schema.NOTAS_COLUMNS) for r in rows]
        return spark.createDataFrame(data, STUDENTS_DDL)

    return build


def _synthetic_students() -> list[dict]:
    """A school built to hit every edge case the jobs must handle.

    * grades 6..11 with 20-30 students each, random scores 0..100, awards 0..3;
    * grade 12 has exactly one student (standard deviation and r undefined: NULL);
    * grade 10 has the same awards (2) for everyone: constant column, r(premios, *) NULL,
      desviacion 0.0 (defined, not NULL);
    * grade 9 has no science score at all (n = 0, every statistic NULL);
    * 7 students have no grade: in the school-wide scope only, the "sin grado" row;
    * scattered NULL math/English scores and NULL awards;
    * programs: 0 has exactly 10 students (published), 1 exactly 9 (suppressed), 3 the
      rest, and a few students have no program. Programs 0 and 1 have complete data so
      their n is exactly their size.
    """
    rng = random.Random(20240601)
    rows: list[dict] = []

    def student(grado, **fixed):
        row = {
            "id": len(rows) + 1,
            "nombre": f"Estudiante {len(rows) + 1}",
            "grado": grado,
            "premios": rng.randint(0, 3),
            "programa": 3,
            "matematicas": rng.randint(0, 100),
            "ingles": rng.randint(0, 100),
            "ciencias": rng.randint(0, 100),
        }
        row.update(fixed)
        rows.append(row)
        return row

    for grado in range(6, 12):
        for _ in range(rng.randint(20, 30)):
            row = student(grado)
            if grado == 10:
                row["premios"] = 2
            if grado == 9:
                row["ciencias"] = None
    student(12)
    for _ in range(7):
        student(None)

    # Scattered NULLs, never on the program 0/1 students chosen below.
    for row in rows:
        if rng.random() < 0.08:
            row["matematicas"] = None
        if rng.random() < 0.08:
            row["ingles"] = None
        if rng.random() < 0.04:
            row["premios"] = None
        if rng.random() < 0.03:
            row["programa"] = None

    complete = [r for r in rows if r["grado"] not in (9, 12, None)]
    rng.shuffle(complete)
    for i, row in enumerate(complete[:19]):
        row["programa"] = 0 if i < 10 else 1
        for col in ("premios", "matematicas", "ingles", "ciencias"):
            if row[col] is None:
                row[col] = rng.randint(0, 3) if col == "premios" else rng.randint(0, 100)
        if row["grado"] == 10:
            row["premios"] = 2  # keep grade 10's awards constant
    return rows


@pytest.fixture(scope="session")
def synthetic_rows() -> list[dict]:
    return _synthetic_students()


@pytest.fixture(scope="session", params=["sintetico", "sin_ciencias", "vacio"])
def dataset(request, synthetic_rows):
    """(name, rows): the synthetic school, the same with science all NULL, and no students."""
    if request.param == "sintetico":
        return request.param, synthetic_rows
    if request.param == "sin_ciencias":
        return request.param, [{**r, "ciencias": None} for r in synthetic_rows]
    return request.param, []


class Compare:
    """Row comparison against a pandas reference, and the no-NaN rule."""

    @staticmethod
    def nn(value):
        """pandas' NaN (undefined) -> None, as the reporting tables want; numbers as float."""
        if value is None:
            return None
        value = float(value)
        return None if math.isnan(value) else value

    @staticmethod
    def assert_no_nan(rows) -> None:
        for row in rows:
            for key, value in (row.asDict() if hasattr(row, "asDict") else row).items():
                if isinstance(value, float):
                    assert math.isfinite(value), f"{key}={value!r} in {row}"

    @staticmethod
    def assert_rows(actual_rows, expected: list[dict], keys: tuple[str, ...], rel: float = 1e-9) -> None:
        """Same key set, integers equal, floats equal to ``rel``, NULL exactly where expected."""
        actual_rows = [r.asDict() if hasattr(r, "asDict") else dict(r) for r in actual_rows]
        actual = {tuple(r[k] for k in keys): r for r in actual_rows}
        wanted = {tuple(e[k] for k in keys): e for e in expected}
        assert len(actual) == len(actual_rows), "duplicate keys in the output"
        assert set(actual) == set(wanted), (
            f"missing {sorted(set(wanted) - set(actual), key=str)}; "
            f"unexpected {sorted(set(actual) - set(wanted), key=str)}"
        )
        for key, exp in wanted.items():
            got = actual[key]
            for col, value in exp.items():
                if value is None:
                    assert got[col] is None, f"{key} {col}: expected NULL, got {got[col]!r}"
                elif isinstance(value, float):
                    assert got[col] is not None, f"{key} {col}: expected {value}, got NULL"
                    assert got[col] == pytest.approx(value, rel=rel, abs=1e-12), f"{key} {col}"
                else:
                    assert got[col] == value, f"{key} {col}"


@pytest.fixture(scope="session")
def compare() -> type[Compare]:
    return Compare
