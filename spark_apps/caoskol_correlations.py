"""spark-submit entry point: Pearson correlations of the cleaned students.

    spark-submit [--master M] [--py-files caoskol.zip] spark_apps/caoskol_correlations.py \\
        --input RUN_DIR/clean --output RUN_DIR/spark

Writes OUTPUT/correlaciones/ (Parquet, overwritten, one file). All logic lives in
``caoskol.spark.correlations`` (a pure function, unit-tested against pandas); this file
only parses arguments. The master is not set here: spark-submit (or the Airflow
connection behind it) provides it.
"""

from __future__ import annotations

import sys


def _tables(students):
    from caoskol.spark import correlations_tables

    return correlations_tables(students)


def main(argv: list[str] | None = None) -> int:
    from caoskol.spark import app

    return app.run("caoskol-correlations", __doc__.splitlines()[0], _tables, argv)


if __name__ == "__main__":
    sys.exit(main())
