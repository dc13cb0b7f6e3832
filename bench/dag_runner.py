"""Run the nightly DAG once with ``dag.test()``, as tests/e2e does; print one JSON line.

Started by ``bench/pipeline_scale.py`` in its own process, with the connections and the
data folder in the environment, so the benchmark can sample the memory of this process
and of everything it starts (spark-submit, the Spark JVM, its Python workers).

    python bench/dag_runner.py --logical-date 2026-11-30T07:00:00+00:00
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logical-date", required=True)
    args = parser.parse_args(argv)
    started = time.time()

    from airflow.dag_processing.dagbag import DagBag

    from caoskol import config

    parse_start = time.time()
    bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    parse_end = time.time()
    if bag.import_errors:
        print(json.dumps({"error": str(bag.import_errors)}))
        return 2
    dag = bag.dags[config.DAG_ID]
    test_start = time.time()
    dagrun = dag.test(logical_date=datetime.fromisoformat(args.logical_date))
    test_end = time.time()
    print(
        "BENCH_RESULT "
        + json.dumps(
            {
                "run_id": dagrun.run_id,
                "run_dir": str(config.run_dir(dagrun.run_id)),
                "state": str(dagrun.state),
                "process_start": started,
                "dagbag_seconds": parse_end - parse_start,
                "dag_test_start": test_start,
                "dag_test_end": test_end,
            }
        ),
        flush=True,
    )
    return 0 if "success" in str(dagrun.state).lower() else 1


if __name__ == "__main__":
    sys.exit(main())
