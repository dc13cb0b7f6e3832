"""A run's row in `ejecuciones` never stays 'en_curso' once nothing runs it.

Airflow calls no task callback when a run is marked failed by hand, a worker dies, or the
scheduler times the run out; the portal would then say "en curso" for ever. Two guards,
against the real reporting schema: the next run's start closes any run left 'en_curso'
(the DAG allows one active run), and the DAG's run-failure callback closes its own run
unless a task already recorded why it failed.
"""

from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from caoskol import airflow_callbacks, db, runs, schema


@pytest.fixture()
def reportes(mysql_urls, monkeypatch, airflow_conn):
    """A fresh reporting schema, reached both by URL and as Airflow's `reportes_mysql`."""
    url = mysql_urls[1]
    monkeypatch.setenv("AIRFLOW_CONN_REPORTES_MYSQL", airflow_conn(url))
    engine = db.create_reportes_schema(url)
    yield engine


def _rows(engine):
    e = schema.ejecuciones
    with engine.connect() as conn:
        return {r.run_id: r for r in conn.execute(select(e.c.run_id, e.c.estado, e.c.error, e.c.fin))}


def test_a_new_run_closes_a_run_left_en_curso(reportes, tmp_path):
    engine = reportes
    day = datetime(2026, 12, 1, 7, tzinfo=timezone.utc)
    runs.mark_started(engine, "vieja", day)
    runs.mark_started(engine, "fallo_propio", day)
    runs.mark_failed(engine, "fallo_propio", day, "extract: MySQL no responde", tmp_path)
    runs.mark_started(engine, "nueva", datetime(2026, 12, 2, 7, tzinfo=timezone.utc))

    rows = _rows(engine)
    assert rows["vieja"].estado == "fallida" and rows["vieja"].fin is not None
    assert "terminó sin registrar su resultado" in rows["vieja"].error
    assert rows["fallo_propio"].error == "extract: MySQL no responde"  # its own cause is kept
    assert rows["nueva"].estado == "en_curso" and rows["nueva"].error is None
    # Starting the same run again (a retry of extract) does not close itself.
    runs.mark_started(engine, "nueva", datetime(2026, 12, 2, 7, tzinfo=timezone.utc))
    assert _rows(engine)["nueva"].estado == "en_curso"


def test_run_failure_callback_closes_only_a_run_still_en_curso(reportes, tmp_path):
    engine = reportes
    day = datetime(2026, 12, 3, 7, tzinfo=timezone.utc)
    runs.mark_started(engine, "marcada", day)
    airflow_callbacks.on_run_failure({"run_id": "marcada", "reason": "timed_out", "dag_run": SimpleNamespace()})
    row = _rows(engine)["marcada"]
    assert row.estado == "fallida" and "timed_out" in row.error and "reporte anterior sigue vigente" in row.error

    runs.mark_failed(engine, "con_causa", day, "validate_clean: columnas faltantes", tmp_path)
    airflow_callbacks.on_run_failure({"run_id": "con_causa", "reason": None, "dag_run": SimpleNamespace()})
    assert _rows(engine)["con_causa"].error == "validate_clean: columnas faltantes"


def test_json_columns_keep_names_readable_on_both_engines(reportes):
    # cuarentena.datos as stored in MySQL, as a data engineer reads it with the mysql
    # client: 'Muñoz', not 'Mu\u00f1oz' (SQLAlchemy's JSON default escapes it), whether
    # the row came through our engine or through the Airflow hook's (the publish task).
    from sqlalchemy import insert, text

    from caoskol import steps

    ours = reportes
    runs.mark_started(ours, "json", datetime(2026, 12, 4, 7, tzinfo=timezone.utc))
    hooks = steps.Connections.from_airflow().reportes_engine()
    for engine, who in ((ours, "ours"), (hooks, "hook")):
        with engine.begin() as conn:
            conn.execute(insert(schema.cuarentena).values(
                run_id="json", id_origen=who, motivo="prueba", datos={"nombre": "Ana Muñoz Peña", "ciudad": "Bogotá"}))
    with ours.connect() as conn:
        stored = dict(conn.execute(text("SELECT id_origen, CAST(datos AS CHAR) FROM cuarentena")).all())
    for who in ("ours", "hook"):
        assert "Ana Muñoz Peña" in stored[who] and "Bogotá" in stored[who] and "\\u00f1" not in stored[who], stored[who]
    hooks.dispose()


def test_a_run_marked_failed_in_airflow_is_closed_by_the_listener(reportes):
    # Marking a run failed in the UI or REST API calls no callback, only the listeners'
    # on_dag_run_failed (Airflow's api-server does, with this message). The plugin in
    # plugins/ must be what Airflow's own plugin manager loads and its listener manager calls.
    from airflow import plugins_manager
    from airflow.listeners.listener import get_listener_manager

    from caoskol import config

    engine = reportes
    day = datetime(2026, 12, 4, 7, tzinfo=timezone.utc)
    runs.mark_started(engine, "marcada_a_mano", day)
    with engine.begin() as conn:  # a row the listener must leave: same run id shape, other DAG
        runs.upsert_run(conn, "de_otro_dag", day, estado="en_curso")

    assert "caoskol" in {p["name"] for p in plugins_manager.get_plugin_info()}
    hook = get_listener_manager().hook
    hook.on_dag_run_failed(dag_run=SimpleNamespace(dag_id="otro", run_id="de_otro_dag"), msg="x")
    hook.on_dag_run_failed(dag_run=SimpleNamespace(dag_id=config.DAG_ID, run_id="marcada_a_mano"),
                           msg="Dag Run's state was manually set to `failed`.")
    rows = _rows(engine)
    assert rows["marcada_a_mano"].estado == "fallida" and "manually set to `failed`" in rows["marcada_a_mano"].error
    assert rows["de_otro_dag"].estado == "en_curso"
