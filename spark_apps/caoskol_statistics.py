"""spark-submit entry point: descriptive statistics of the cleaned students.

    spark-submit [--master M] [--py-files caoskol.zip] spark_apps/caoskol_statistics.py \\
        --input RUN_DIR/clean --output RUN_DIR/spark

Writes one Parquet folder per reporting table under OUTPUT: estadisticas/,
estudiantes_por_grado/, distribucion_premios/, histogramas/, agregados_programa/
(overwritten, one file each). All logic lives in ``caoskol.spark.statistics`` (pure
functions, unit-tested against pandas); this file only parses arguments. The master is
not set here: spark-submit (or the Airflow connection behind it) provides it.
"""

from __future__ import annotations

import sys


def _tables(students):
    from caoskol.spark import statistics_tables

    return statistics_tables(students)


def main(argv: list[str] | None = None) -> int:
    from caoskol.spark import app

    return app.run("caoskol-statistics", __doc__.splitlines()[0], _tables, argv)


if __name__ == "__main__":
    sys.exit(main())
