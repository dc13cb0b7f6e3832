"""spark-submit entry point that runs both jobs once on a tiny school, to record classes.

``caoskol.spark_cds`` submits it with ``-XX:ArchiveClassesAtExit`` so that the driver JVM
writes every class a real job loads (Parquet reader and writer, the SQL planner, code
generation, shuffles) to the class-data-sharing archive the DAG's jobs then map.

    spark-submit caoskol/spark/warmup.py SCRATCH_DIR
"""

from __future__ import annotations

import sys


def tiny_school() -> list[tuple]:
    """200 students with the defects the jobs must handle: no grade, no science score."""
    programs = (0, 1, 3)
    return [
        (i, f"Estudiante {i}", None if i % 7 == 0 else 6 + i % 7, i % 4, programs[i % 3],
         i % 101, (i * 7) % 101, None if i % 5 == 0 else (i * 3) % 101)
        for i in range(1, 201)
    ]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: warmup.py SCRATCH_DIR", file=sys.stderr)
        return 2
    scratch = argv[0].rstrip("/")
    from pyspark.sql import SparkSession

    from caoskol.spark import correlations_tables, read_students, statistics_tables, students_ddl, write_tables

    spark = SparkSession.builder.appName("caoskol-class-archive").getOrCreate()
    try:
        spark.createDataFrame(tiny_school(), students_ddl()).write.mode("overwrite").parquet(f"{scratch}/clean")
        students = read_students(spark, f"{scratch}/clean")
        write_tables({**statistics_tables(students), **correlations_tables(students)}, f"{scratch}/spark")
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
