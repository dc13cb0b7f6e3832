"""Helpers shared by tests (importable as `support`: pytest adds tests/ to sys.path)."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import text

from caoskol import db

REPO_ROOT = Path(__file__).resolve().parent.parent

TUPLE = re.compile(r"\((\d+),\s*'((?:[^'\\]|\\.|'')*)',\s*(\w+),\s*(\w+),\s*(\w+),\s*(\w+),\s*(\w+),\s*(\w+)\)")
COLUMNS = ["id", "nombre", "grado", "premios", "programa", "matematicas", "ingles", "ciencias"]


def parse_dump_reference(path: Path) -> pd.DataFrame:
    """The school's results parsed here with a regex, independently of the project's loader."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        m = TUPLE.search(line)
        assert m, f"reference parser cannot read: {line!r}"
        vals = list(m.groups())
        rows.append([int(vals[0]), vals[1]] + [None if v == "NULL" else int(v) for v in vals[2:]])
    return pd.DataFrame(rows, columns=COLUMNS)


def load_files(*files: Path, extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """The project's loader, as a data engineer runs it."""
    return subprocess.run(
        [sys.executable, "-m", "caoskol.cli", "load", *extra, *map(str, files)], capture_output=True, text=True
    )


def run_dag(logical_date: datetime):
    """Parse dags/ as the DAG processor would and run the nightly DAG once, for real."""
    from airflow.dag_processing.dagbag import DagBag

    from caoskol import config

    bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    assert not bag.import_errors, bag.import_errors
    dag = bag.dags[config.DAG_ID]
    return dag.test(logical_date=logical_date)


def query(url: str, sql: str, **params) -> list[dict]:
    eng = db.engine(url)
    try:
        with eng.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(text(sql), params)]
    finally:
        eng.dispose()
