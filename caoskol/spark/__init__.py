"""The two Spark jobs as pure ``DataFrame -> DataFrame`` functions.

* :mod:`caoskol.spark.statistics` - ``estadisticas``, ``estudiantes_por_grado``,
  ``distribucion_premios``, ``histogramas``, ``agregados_programa``.
* :mod:`caoskol.spark.correlations` - ``correlaciones``.

Each function takes the cleaned students DataFrame (columns ``schema.NOTAS_COLUMNS``) and
returns a DataFrame whose columns are exactly the reporting table's columns without ``pk``
and ``run_id`` (see :func:`report_columns`), so ``publish`` can insert them as they are.
The thin spark-submit entry points live in ``spark_apps/``; they only parse arguments and
call :func:`read_students`, the job's ``*_tables`` function and :func:`write_tables`.

This module does not import pyspark at import time (the public functions are loaded on
first use): Airflow parses DAG files every few seconds, and anything that merely names
these jobs must not pay for, or depend on, a pyspark import.

Output types: ``ambito``/``variable*``/``materia`` strings; ``grado``, ``premios``,
``programa``, ``puntaje`` and ``n`` 64-bit integers (input integers are only ever widened,
never narrowed, so no cast can fail under ANSI mode); ``media``, ``desviacion``,
``minimo``, ``maximo``, ``r`` doubles, NULL where undefined and never NaN.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

from caoskol import schema

if TYPE_CHECKING:  # pragma: no cover - typing only
    from pyspark.sql import DataFrame, SparkSession

# Columns the reporting tables get from the database itself, not from Spark.
_DB_ONLY_COLUMNS = ("pk", "run_id")

# Output folder (= reporting table) names of each job, in the order they are written.
STATISTICS_OUTPUTS = tuple(
    t.name
    for t in (
        schema.estadisticas,
        schema.estudiantes_por_grado,
        schema.distribucion_premios,
        schema.histogramas,
        schema.agregados_programa,
    )
)
CORRELATIONS_OUTPUTS = (schema.correlaciones.name,)

_LAZY = {
    "prepare_students": "statistics",
    "estadisticas": "statistics",
    "estudiantes_por_grado": "statistics",
    "distribucion_premios": "statistics",
    "histogramas": "statistics",
    "agregados_programa": "statistics",
    "statistics_tables": "statistics",
    "correlaciones": "correlations",
    "correlations_tables": "correlations",
    "CORRELATION_PAIRS": "correlations",
}

__all__ = [
    "STATISTICS_OUTPUTS",
    "CORRELATIONS_OUTPUTS",
    "report_columns",
    "students_ddl",
    "read_students",
    "write_tables",
    *_LAZY,
]


def __getattr__(name: str):
    # PEP 562 lazy re-export: `from caoskol.spark import estadisticas` imports pyspark only
    # when a job actually needs it.
    if name in _LAZY:
        import importlib

        module = importlib.import_module(f"{__name__}.{_LAZY[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def report_columns(table_name: str) -> list[str]:
    """The columns a Spark output must have: the reporting table's, minus pk and run_id.

    Read from ``caoskol.schema`` so the jobs, the publisher and the tests share one list.
    """
    table = schema.reportes_metadata.tables[table_name]
    return [c.name for c in table.columns if c.name not in _DB_ONLY_COLUMNS]


def students_ddl() -> str:
    """Schema of the cleaned rows as Spark DDL, used when the input folder holds no file."""
    types = {"nombre": "string"}
    return ", ".join(f"{c} {types.get(c, 'bigint')}" for c in schema.NOTAS_COLUMNS)


def read_students(spark: "SparkSession", path: str) -> "DataFrame":
    """Read the cleaned rows (a Parquet folder) written by the ``clean`` step.

    A run with zero clean rows may leave a folder with no Parquet file at all; Spark then
    cannot infer a schema (``UNABLE_TO_INFER_SCHEMA``). That is a legitimate empty input,
    so it becomes an empty DataFrame with the contract's schema and the jobs publish their
    n = 0 rows. A *missing* folder (``PATH_NOT_FOUND``) is an upstream failure and is raised.
    """
    from pyspark.errors import AnalysisException

    try:
        return spark.read.parquet(path)
    except AnalysisException as exc:
        if exc.getCondition() != "UNABLE_TO_INFER_SCHEMA":
            raise
        return spark.createDataFrame([], students_ddl())


def write_tables(tables: Mapping[str, "DataFrame"], output: str) -> list[str]:
    """Write each DataFrame to ``output/<table name>/`` as Parquet; return the paths.

    Overwrite, so re-running a task for the same run replaces its outputs instead of
    appending a second copy. Outputs are aggregates (at most a few thousand rows), so one
    file each keeps the folders easy to read for ``publish`` and for humans. Rows are
    sorted by every column (NULL grade first) inside that one partition, so a run's files
    are deterministic and diffable; sorting after coalesce(1) costs no extra Spark job,
    unlike a global orderBy (a sampling job plus a shuffle per table).
    """
    from pyspark.sql import functions as F

    # String join rather than pathlib: the output may be an hdfs:// or s3a:// URI.
    base = output.rstrip("/")
    written = []
    for name, df in tables.items():
        target = f"{base}/{name}"
        one_file = df.coalesce(1).sortWithinPartitions(*[F.col(c).asc_nulls_first() for c in df.columns])
        one_file.write.mode("overwrite").parquet(target)
        written.append(target)
    return written
