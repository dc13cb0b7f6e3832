"""Airflow plugin: when a nightly run fails as a whole, its `ejecuciones` row says so.

Airflow calls no DAG or task callback when someone marks a run failed in the UI or the
REST API; it does call the listeners' ``on_dag_run_failed`` (in the api-server for a
manual mark, in the scheduler when it fails a run itself). Without this the portal would
show such a run as "en curso" until the next run starts. The work is the run-failure
callback's (``caoskol.airflow_callbacks.on_run_failure``): only a row still 'en_curso'
changes, so a task's own recorded cause is kept.
"""

from __future__ import annotations

from airflow.listeners import hookimpl
from airflow.plugins_manager import AirflowPlugin


class RunFailureListener:
    @hookimpl
    def on_dag_run_failed(self, dag_run, msg):
        from caoskol import airflow_callbacks, config

        if getattr(dag_run, "dag_id", None) != config.DAG_ID:
            return
        airflow_callbacks.on_run_failure({"run_id": dag_run.run_id, "reason": msg, "dag_run": dag_run})


class CaoskolPlugin(AirflowPlugin):
    name = "caoskol"
    listeners = [RunFailureListener()]
