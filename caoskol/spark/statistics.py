"""Descriptive statistics of the cleaned students, as pure DataFrame -> DataFrame functions.

Every function takes the cleaned students (columns ``schema.NOTAS_COLUMNS``; ``grado`` and
any subject may be NULL) and returns the rows of one reporting table, columns in the
table's order (``caoskol.spark.report_columns``).

Scopes ("ambito"):

* ``escuela`` (``grado`` NULL): every student, including those with no grade;
* ``grado`` (``grado`` 6..12): only students with a grade.

Undefined values are NULL, never NaN and never 0: with n = 0 every statistic is NULL, with
n = 1 the sample standard deviation is NULL. Spark 4's built-in aggregates already behave
so (``avg``/``min``/``max`` of no values are NULL; ``stddev_samp`` of one value is NULL
unless ``spark.sql.legacy.statisticalAggregate=true``, which makes it NaN); :func:`defined`
turns NaN into NULL so the contract holds whatever that flag says (tested).

Everything here runs with ``spark.sql.ansi.enabled=true`` (Spark 4's default): there is no
division in our code, and every cast is one that cannot fail (integers widened to bigint or
double; a double to bigint only once it is known to be a whole number in range).
"""

from __future__ import annotations

from typing import Iterable

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from caoskol import config, schema
from caoskol.spark import report_columns

ESCUELA, GRADO = schema.SCOPES  # ("escuela", "grado")
SCOPE_KEYS = ("ambito", "grado")

# Marks a real student in a scoped frame; NULL on the padding rows (see with_scopes).
_STUDENT = "_alumno"

_INTEGRAL = (T.ByteType, T.ShortType, T.IntegerType, T.LongType)


def _as_bigint(name: str, dtype: T.DataType) -> Column:
    """One input column as bigint, without any cast that can fail under ANSI mode."""
    col = F.col(name)
    if isinstance(dtype, (*_INTEGRAL, T.NullType)):
        return col.cast("bigint")  # widening: cannot fail
    # Floating point: how pandas stores a nullable integer column unless told Int64. NaN is
    # its "missing", so it becomes NULL; whole numbers (exact in a double up to 2**53) are
    # converted; anything else fails the job by name instead of being truncated. CASE WHEN
    # evaluates only the branch taken, so the cast never sees NaN, infinity or a fraction.
    value = col.cast("double")
    whole = (F.abs(value) <= F.lit(2.0**53)) & (value == F.round(value))
    refuse = F.raise_error(F.concat(F.lit(f"cleaned students: {name} is not an integer: "), value.cast("string")))
    return (
        F.when(value.isNull() | F.isnan(value), F.lit(None).cast("bigint"))
        .when(whole, value.cast("bigint"))
        .otherwise(refuse)
    )


def prepare_students(students: DataFrame) -> DataFrame:
    """Keep the contract's numeric columns, all as bigint; drop names (never needed here).

    Integers of any width are widened to bigint; a column Parquet stored with the *null*
    type (every value NULL, e.g. no student has a science score) becomes bigint NULLs;
    float columns holding whole numbers and NaN (pandas' default for a nullable integer
    column) are accepted, NaN read as NULL. Text or decimal columns are a contract
    violation and are refused here. Idempotent.
    """
    fields = {f.name: f.dataType for f in students.schema.fields}
    missing = [c for c in schema.NOTAS_COLUMNS if c not in fields]
    if missing:
        raise ValueError(f"cleaned students lack columns {missing}; got {sorted(fields)}")
    numeric = [c for c in schema.NOTAS_COLUMNS if c != "nombre"]
    accepted = (*_INTEGRAL, T.NullType, T.FloatType, T.DoubleType)
    wrong = {c: fields[c].simpleString() for c in numeric if not isinstance(fields[c], accepted)}
    if wrong:
        raise TypeError(f"cleaned students must have integer columns; got {wrong}")
    return students.select(*[_as_bigint(c, fields[c]).alias(c) for c in numeric])


def with_scopes(students: DataFrame, *, pad: bool = False) -> DataFrame:
    """Each student once in scope ``escuela`` (grado NULL) and, if graded, once in ``grado``.

    With ``pad=True`` one extra row per fixed scope (``escuela`` and every grade 6..12) is
    added with every data column NULL and ``_alumno`` NULL. NULL-ignoring aggregates
    (count(col), avg, stddev_samp, min, max, corr) do not see those rows, but ``groupBy``
    does, so every fixed scope gets its row (n = 0, statistics NULL) even when no student
    is in it - an empty input still yields the school-wide n = 0 rows, and a report always
    has the same shape. Grades outside 6..12 (``validate_clean`` forbids them) would still
    get their own scope rather than vanish.
    """
    students = prepare_students(students).withColumn(_STUDENT, F.lit(1).cast("bigint"))
    escuela = students.withColumn("ambito", F.lit(ESCUELA)).withColumn("grado", F.lit(None).cast("bigint"))
    grado = students.where(F.col("grado").isNotNull()).withColumn("ambito", F.lit(GRADO))
    scoped = escuela.unionByName(grado)
    if pad:
        padding = students.sparkSession.createDataFrame(
            [(ESCUELA, None)] + [(GRADO, g) for g in schema.GRADES],
            "ambito string, grado bigint",
        )
        scoped = scoped.unionByName(padding, allowMissingColumns=True)
    return scoped


def defined(col: Column) -> Column:
    """NULL instead of NaN or +-Infinity: the reporting tables promise "undefined is NULL"."""
    return F.when(F.isnan(col) | (F.abs(col) == F.lit(float("inf"))), F.lit(None).cast("double")).otherwise(col)


def _long(
    frame: DataFrame, ids: Iterable[str], values: Iterable[str], name: str, value: str, cast: str | None
) -> DataFrame:
    """Unpivot ``values`` into (name, value) rows; NULL values are kept (count() skips them)."""
    ids, values = list(ids), list(values)
    cols = [F.col(v).cast(cast).alias(v) if cast else F.col(v) for v in values]
    return frame.select(*ids, *cols).unpivot(ids, values, name, value)


def estadisticas(students: DataFrame) -> DataFrame:
    """n, mean, sample standard deviation, min and max of each variable, per scope.

    One row per (scope, variable) for ``escuela`` and every grade 6..12, also when n = 0.
    """
    long = _long(with_scopes(students, pad=True), SCOPE_KEYS, schema.STAT_VARIABLES, "variable", "valor", "double")
    out = long.groupBy(*SCOPE_KEYS, "variable").agg(
        F.count("valor").alias("n"),
        defined(F.avg("valor")).alias("media"),
        # Sample (n - 1) standard deviation: NULL for n = 1 in Spark 4 (not NaN).
        defined(F.stddev_samp("valor")).alias("desviacion"),
        F.min("valor").alias("minimo"),
        F.max("valor").alias("maximo"),
    )
    return out.select(*report_columns(schema.estadisticas.name))


def estudiantes_por_grado(students: DataFrame) -> DataFrame:
    """Students per grade; the ``grado`` NULL row counts the students with no grade.

    Every grade 6..12 and the NULL row are always present (n = 0 when nobody is there).
    """
    students = prepare_students(students).select("grado", F.lit(1).cast("bigint").alias(_STUDENT))
    padding = students.sparkSession.createDataFrame(
        [(None,)] + [(g,) for g in schema.GRADES], "grado bigint"
    )
    out = (
        students.unionByName(padding, allowMissingColumns=True)
        .groupBy("grado")  # NULL grades form one group: the "sin grado" row
        .agg(F.count(_STUDENT).alias("n"))
    )
    return out.select(*report_columns(schema.estudiantes_por_grado.name))


def distribucion_premios(students: DataFrame) -> DataFrame:
    """Students per number of awards, per scope. Only values that occur (n >= 1)."""
    out = (
        with_scopes(students)
        .where(F.col("premios").isNotNull())
        .groupBy(*SCOPE_KEYS, "premios")
        .agg(F.count(F.lit(1)).alias("n"))
    )
    return out.select(*report_columns(schema.distribucion_premios.name))


def histogramas(students: DataFrame) -> DataFrame:
    """Students per integer score, per scope and subject. NULL scores are not counted."""
    long = _long(with_scopes(students), SCOPE_KEYS, schema.SUBJECTS, "materia", "puntaje", None)
    out = long.where(F.col("puntaje").isNotNull()).groupBy(*SCOPE_KEYS, "materia", "puntaje").agg(
        F.count(F.lit(1)).alias("n")
    )
    return out.select(*report_columns(schema.histogramas.name))


def agregados_programa(students: DataFrame, min_group: int = config.MIN_PROGRAM_GROUP) -> DataFrame:
    """n, mean and sample standard deviation per study program and variable.

    Confidentiality, two rules per variable:

    * a row is output only when its n (students of that program with a value for that
      variable) is at least ``min_group``; students with no program are not a group;
    * complementary suppression: the school-wide n and mean are published too, so the
      values not covered by published programs (withheld programs plus students with no
      program) can be derived by subtraction. When they are more than 0 but fewer than
      ``min_group``, the smallest published program is withheld as well, so what can be
      derived is never a group smaller than ``min_group``.
    """
    prepared = prepare_students(students)
    everyone = (
        _long(prepared, [], schema.STAT_VARIABLES, "variable", "valor", "double")
        .groupBy("variable")
        .agg(F.count("valor").alias("total"))
    )
    long = _long(prepared.where(F.col("programa").isNotNull()), ["programa"], schema.STAT_VARIABLES, "variable", "valor", "double")
    grouped = long.groupBy("programa", "variable").agg(
        F.count("valor").alias("n"),
        defined(F.avg("valor")).alias("media"),
        defined(F.stddev_samp("valor")).alias("desviacion"),
    )
    big = F.col("n") >= F.lit(min_group)
    per_variable = Window.partitionBy("variable")
    smallest_first = per_variable.orderBy(F.when(big, 0).otherwise(1), F.col("n"), F.col("programa"))
    marked = (
        grouped.join(everyone, "variable")
        .withColumn("residual", F.col("total") - F.sum(F.when(big, F.col("n")).otherwise(0)).over(per_variable))
        .withColumn("rank", F.row_number().over(smallest_first))
    )
    derivable_small_group = (F.col("residual") > 0) & (F.col("residual") < F.lit(min_group)) & (F.col("rank") == 1)
    out = marked.where(big & ~derivable_small_group)
    return out.select(*report_columns(schema.agregados_programa.name))


def statistics_tables(students: DataFrame) -> dict[str, DataFrame]:
    """Every output of the statistics job, keyed by reporting table (= output folder) name."""
    return {
        schema.estadisticas.name: estadisticas(students),
        schema.estudiantes_por_grado.name: estudiantes_por_grado(students),
        schema.distribucion_premios.name: distribucion_premios(students),
        schema.histogramas.name: histogramas(students),
        schema.agregados_programa.name: agregados_programa(students),
    }
