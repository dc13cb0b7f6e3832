"""What every spark-submit entry point does around its pure functions.

Parse --input/--output, start a SparkSession (the master comes from spark-submit, never
from code), compute the tables and write one Parquet folder per table.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable


def parse_args(app_name: str, description: str, argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=app_name, description=description)
    parser.add_argument("--input", required=True, help="Parquet folder of cleaned students")
    parser.add_argument("--output", required=True, help="folder that receives one Parquet folder per table")
    return parser.parse_args(argv)


def run(app_name: str, description: str, tables: Callable, argv: list[str] | None = None) -> int:
    """``tables``: a pure function DataFrame -> {table name: DataFrame}."""
    args = parse_args(app_name, description, argv)
    # Imported here, not at module top, so `--help` and argument errors need no Spark.
    import caoskol
    from caoskol.spark import read_students, write_tables
    from pyspark.sql import SparkSession

    # Which code ran: the --py-files zip or an installed package.
    print(f"{app_name}: caoskol {caoskol.__version__} from {caoskol.__file__}", file=sys.stderr)
    spark = SparkSession.builder.appName(app_name).getOrCreate()
    try:
        students = read_students(spark, args.input)
        for path in write_tables(tables(students), args.output):
            print(f"{app_name}: wrote {path}", file=sys.stderr)
    finally:
        spark.stop()
    return 0
