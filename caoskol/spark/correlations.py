"""Pearson correlations between awards and scores, as a pure DataFrame -> DataFrame function.

Pairs: (premios, each subject) and each pair of subjects; scopes ``escuela`` (every
student, graded or not) and each grade 6..12. ``n`` counts the students with both values
present; ``r`` uses exactly those students (pairwise deletion, as pandas ``.corr()``).

``r`` is NULL where undefined: n < 2, a constant variable (zero variance), a variable with
no values. Spark 4's ``corr`` already returns NULL in those cases (checked with ANSI mode
on and off); :func:`caoskol.spark.statistics.defined` additionally turns any NaN into NULL
so the contract does not rest on that alone.
"""

from __future__ import annotations

from itertools import combinations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from caoskol import schema
from caoskol.spark import report_columns
from caoskol.spark.statistics import SCOPE_KEYS, defined, with_scopes

# (variable_x, variable_y): awards against each subject, then each pair of subjects.
CORRELATION_PAIRS: tuple[tuple[str, str], ...] = tuple(("premios", s) for s in schema.SUBJECTS) + tuple(
    combinations(schema.SUBJECTS, 2)
)


def _clamp_unit(r):
    """Clamp r to [-1, 1].

    Needed: Spark's one-pass (co)moment update is exact in exact arithmetic but not in
    doubles, and perfectly linear data gives e.g. 1.0000000000000002 (seen in 37 of 300
    random linear samples with pyspark 4.3). |r| > 1 is impossible and would break any
    consumer that takes acos/Fisher z, so the rounding excess is removed here.
    Written with when() rather than greatest()/least(): those skip NULLs, and would turn an
    undefined r (NULL) into -1.
    """
    return F.when(r > F.lit(1.0), F.lit(1.0)).when(r < F.lit(-1.0), F.lit(-1.0)).otherwise(r)


def correlaciones(students: DataFrame) -> DataFrame:
    """One row per (scope, pair) for ``escuela`` and every grade 6..12, also when n = 0."""
    pairs = F.array(
        *[
            F.struct(
                F.lit(x).alias("variable_x"),
                F.lit(y).alias("variable_y"),
                F.col(x).cast("double").alias("x"),
                F.col(y).cast("double").alias("y"),
            )
            for x, y in CORRELATION_PAIRS
        ]
    )
    long = with_scopes(students, pad=True).select(*SCOPE_KEYS, F.inline(pairs))
    out = long.groupBy(*SCOPE_KEYS, "variable_x", "variable_y").agg(
        F.count_if(F.col("x").isNotNull() & F.col("y").isNotNull()).alias("n"),
        # corr() skips rows where x or y is NULL, so it sees exactly the n pairs above.
        _clamp_unit(defined(F.corr("x", "y"))).alias("r"),
    )
    return out.select(*report_columns(schema.correlaciones.name))


def correlations_tables(students: DataFrame) -> dict[str, DataFrame]:
    """Every output of the correlations job, keyed by reporting table (= output folder) name."""
    return {schema.correlaciones.name: correlaciones(students)}
