"""Rows the current run quarantined ("en revisión") are shown flagged, never as valid.

The shared data holds a student whose science score is out of range (QUARANTINED_STUDENT_ID):
the pipeline (or the handmade stand-in) quarantines the row, so it is not in the report.
Expected numbers are read from the reporting tables, never hard-coded.
"""

from __future__ import annotations

import csv
import io
import re

import pytest
from portal_data import QUARANTINED_SCORE, QUARANTINED_STUDENT_ID, STUDENT_ID, TEST_PASSWORD
from portal_helpers import login, visible_text
from sqlalchemy import func, select

from caoskol import db, schema


@pytest.fixture(scope="module")
def motivo(portal_db) -> str:
    """The reason the current run gives for the student's row (straight from caoskol_reportes)."""
    eng = db.engine(portal_db.reportes_url)
    t = schema.cuarentena
    with eng.connect() as conn:
        reasons = conn.execute(select(t.c.motivo).where(
            t.c.run_id == portal_db.current_run, t.c.id_origen == str(QUARANTINED_STUDENT_ID))).scalars().all()
    eng.dispose()
    assert reasons, "the current run did not quarantine the out-of-range row"
    from caoskol_portal.queries import public_reason

    return public_reason("; ".join(reasons))


def report_n(portal_db, grado=None) -> int:
    eng = db.engine(portal_db.reportes_url)
    t = schema.estudiantes_por_grado
    stmt = select(func.coalesce(func.sum(t.c.n), 0)).where(t.c.run_id == portal_db.current_run)
    if grado is not None:
        stmt = stmt.where(t.c.grado == grado)
    with eng.connect() as conn:
        n = int(conn.execute(stmt).scalar())
    eng.dispose()
    return n


def notas_count(portal_db, grado=None) -> int:
    eng = db.engine(portal_db.colegio_url)
    stmt = select(func.count()).select_from(schema.notas)
    if grado is not None:
        stmt = stmt.where(schema.notas.c.grado == grado)
    with eng.connect() as conn:
        n = conn.execute(stmt).scalar()
    eng.dispose()
    return n


def test_student_in_review_sees_notice_and_no_percentile(app, motivo):
    c = app.test_client()
    assert login(c, QUARANTINED_STUDENT_ID, TEST_PASSWORD).status_code == 302
    html = c.get("/estudiante/").get_data(as_text=True)
    text = visible_text(html)
    assert 'id="aviso-en-revision"' in html and "en revisión" in text
    assert motivo in text  # the reason, as the run gave it
    # Their values are shown as recorded...
    row = re.search(r'<tr data-materia="ciencias">(.*?)</tr>', html, re.S).group(1)
    assert f">{QUARANTINED_SCORE}<" in row
    # ...but never compared with the report: no percentile, no grade average.
    assert "Percentil" not in text and "Promedio de mi grado" not in text
    assert 'class="percentil"' not in html and 'class="media-grado"' not in html


def test_api_result_in_review_has_no_comparison(app, clients, motivo):
    c = app.test_client()
    assert login(c, QUARANTINED_STUDENT_ID, TEST_PASSWORD).status_code == 302
    data = c.get(f"/api/v1/resultados/{QUARANTINED_STUDENT_ID}").get_json()
    assert data["en_revision"] == {"motivo": motivo}
    assert data["resultado"]["ciencias"] == QUARANTINED_SCORE
    assert all(m["percentil"] is None and m["media_grado"] is None for m in data["comparacion"]["grado"])
    assert data["comparacion"]["premios"]["media_grado"] is None
    # A student whose row is in the report keeps the comparison.
    other = clients["estudiante"].get(f"/api/v1/resultados/{STUDENT_ID}").get_json()
    assert other["en_revision"] is None
    assert any(m["percentil"] is not None for m in other["comparacion"]["grado"])


def test_teacher_table_flags_rows_in_review_and_count_reconciles(clients, portal_db, motivo):
    c = clients["profesor"]
    html = c.get("/profesor/estudiantes?grado=8&orden=id&dir=desc&por_pagina=100").get_data(as_text=True)
    assert '<th scope="col" data-columna="en_revision">En revisión</th>' in html
    rows = re.findall(r"<tr([^>]*)>(<td data-columna=\"id\">(\d+)</td>.*?)</tr>", html, re.S)
    flagged = {int(sid): body for attrs, body, sid in rows if 'data-en-revision="1"' in attrs}
    assert set(flagged) == {QUARANTINED_STUDENT_ID}
    assert "En revisión" in flagged[QUARANTINED_STUDENT_ID] and motivo in visible_text(flagged[QUARANTINED_STUDENT_ID])
    # total - en revisión = the report's n for that grade.
    total = notas_count(portal_db, 8)
    m = re.search(r'(\d+) estudiantes \(<span id="total-en-revision">(\d+)</span> en revisión', html)
    assert m, visible_text(html)[:400]
    assert int(m.group(1)) == total and int(m.group(1)) - int(m.group(2)) == report_n(portal_db, 8)
    # The whole school too.
    html = c.get("/profesor/estudiantes").get_data(as_text=True)
    m = re.search(r'(\d+) estudiantes \(<span id="total-en-revision">(\d+)</span> en revisión', html)
    assert int(m.group(1)) - int(m.group(2)) == report_n(portal_db)


def test_csv_marks_rows_in_review(clients, motivo):
    text = clients["profesor"].get("/profesor/estudiantes.csv?grado=8").get_data().decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    by_id = {int(r["id"]): r for r in rows}
    assert by_id[QUARANTINED_STUDENT_ID]["en_revision"] == "sí"
    assert by_id[QUARANTINED_STUDENT_ID]["motivo_revision"] == motivo
    others = [r for sid, r in by_id.items() if sid != QUARANTINED_STUDENT_ID]
    assert others and all(r["en_revision"] == "no" and r["motivo_revision"] == "" for r in others)


def test_review_lookup_is_one_query_per_page_by_its_ids_and_cached(app, portal_db):
    store = app.extensions["caoskol_store"]
    calls = []
    real = store.cuarentena_de

    def spy(run_id, ids):
        calls.append((run_id, list(ids)))
        return real(run_id, ids)

    store.cuarentena_de = spy
    c = app.test_client()
    login(c, *portal_db.accounts["profesor"])
    url = "/profesor/estudiantes?por_pagina=25&pagina=2"
    html = c.get(url).get_data(as_text=True)
    assert len(calls) == 1
    run_id, ids = calls[0]
    assert run_id == portal_db.current_run
    assert sorted(ids) == sorted(int(x) for x in re.findall(r'<td data-columna="id">(\d+)</td>', html))
    c.get(url)
    assert len(calls) == 1  # same run version, same page: from the cache


def test_reasons_about_confidential_columns_are_withheld_outside_admin():
    from caoskol_portal.queries import WITHHELD_REASON, public_reason

    assert public_reason("puntaje fuera de rango 0-100: ciencias=107") == "puntaje fuera de rango 0-100: ciencias=107"
    mixed = public_reason("puntaje fuera de rango 0-100: ciencias=107; programa desconocido")
    assert mixed == f"puntaje fuera de rango 0-100: ciencias=107; {WITHHELD_REASON}" and "programa" not in mixed
    assert public_reason("programa desconocido") == WITHHELD_REASON
