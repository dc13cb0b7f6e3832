"""Reading what Airflow's CLI prints, for the run script and the tests."""

from __future__ import annotations

import json
import re

# Airflow may print log lines such as "[warning  ] Could not import graphviz" on stdout
# before the JSON, and they start with "[" too: the JSON is the line that starts with
# "[{" (or is "[]").
_JSON_LINE = re.compile(r"^\[(?:\{.*|\s*\])$", re.MULTILINE)


def json_rows(text: str) -> list[dict]:
    match = _JSON_LINE.search(text)
    return json.loads(match.group(0)) if match else []


def run_state(list_runs_output: str, run_id: str) -> str:
    """The state of ``run_id`` in `airflow dags list-runs -o json` output ('none' if absent)."""
    for row in json_rows(list_runs_output):
        if row.get("run_id") == run_id:
            return row.get("state") or "none"
    return "none"
