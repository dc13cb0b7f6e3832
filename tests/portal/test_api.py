"""The JSON API (/api/v1): the old system's services plus the published reports."""

from __future__ import annotations

import pytest
from portal_data import OTHER_STUDENT_ID, STUDENT_ID, TEACHER_ID, TEST_PASSWORD
from sqlalchemy import func, select

from caoskol import db, schema


def api_login(client, uid, pw):
    r = client.post("/api/v1/sesion", json={"id": uid, "clave": pw})
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()["csrf_token"]


@pytest.fixture()
def admin_api(app, portal_db):
    c = app.test_client()
    uid, pw = portal_db.accounts["administrador"]
    token = api_login(c, uid, pw)
    return c, {"X-CSRFToken": token}


def test_json_session_lifecycle(app, portal_db):
    c = app.test_client()
    assert c.get("/api/v1/sesion").get_json()["autenticado"] is False
    uid, pw = portal_db.accounts["profesor"]
    r = c.post("/api/v1/sesion", json={"id": uid, "clave": pw})
    body = r.get_json()
    assert body["usuario"] == {"id": uid, "nombre": "John Stones", "rol": "profesor", "debe_cambiar_clave": False}
    assert pw not in r.get_data(as_text=True) and "clave_hash" not in r.get_data(as_text=True)
    assert c.get("/api/v1/sesion").get_json()["autenticado"] is True
    assert c.get("/api/v1/reporte").status_code == 200
    r = c.delete("/api/v1/sesion", headers={"X-CSRFToken": body["csrf_token"]})
    assert r.status_code == 200
    assert c.get("/api/v1/reporte").status_code == 401


def test_results_by_student_grade_and_all(clients, portal_db):
    c = clients["profesor"]
    one = c.get(f"/api/v1/resultados/{STUDENT_ID}").get_json()
    assert one["resultado"]["nombre"] == "Mario Muñoz"
    assert set(one["resultado"]) == set(schema.PUBLIC_STUDENT_COLUMNS)
    grade = c.get("/api/v1/resultados/grado/7").get_json()
    assert grade["total"] == len(grade["resultados"]) and {r["grado"] for r in grade["resultados"]} == {7}
    eng = db.engine(portal_db.colegio_url)
    with eng.connect() as conn:
        total = conn.execute(select(func.count()).select_from(schema.notas)).scalar()
    eng.dispose()
    page1 = c.get("/api/v1/resultados?por_pagina=100").get_json()
    assert page1["total"] == total and len(page1["resultados"]) == 100
    ids = []
    for p in range(1, page1["total"] // 100 + 2):
        ids += [r["id"] for r in c.get(f"/api/v1/resultados?por_pagina=100&pagina={p}").get_json()["resultados"]]
    assert len(ids) == len(set(ids)) == total
    assert c.get("/api/v1/resultados/999999").status_code == 404


def test_students_cannot_list(clients):
    for url in ("/api/v1/resultados", "/api/v1/resultados/grado/6", "/api/v1/reporte", "/api/v1/usuarios"):
        r = clients["estudiante"].get(url)
        assert r.status_code == 403 and r.get_json()["error"] == "prohibido"
    assert clients["estudiante"].get(f"/api/v1/resultados/{OTHER_STUDENT_ID}").status_code == 403


def test_admin_user_crud_creates_and_deletes_the_results_record(admin_api, app):
    c, h = admin_api
    store = app.extensions["caoskol_store"]
    store.delete_user(71001)
    r = c.post("/api/v1/usuarios", json={"id": 71001, "nombre": "Íñigo Núñez", "rol": "estudiante", "grado": 9,
                                         "programa": 1}, headers=h)
    assert r.status_code == 201
    body = r.get_json()
    assert body["usuario"]["nombre"] == "Íñigo Núñez" and body["usuario"]["debe_cambiar_clave"] is True
    temp = body["clave_temporal"]
    assert len(temp) >= 12
    # No awards yet (0: the cleaning policy quarantines NULL awards), no scores yet.
    assert store.student(71001) == {"id": 71001, "nombre": "Íñigo Núñez", "grado": 9, "premios": 0,
                                    "matematicas": None, "ingles": None, "ciencias": None}
    assert c.post("/api/v1/usuarios", json={"id": 71001, "nombre": "Otro", "rol": "profesor"}, headers=h).status_code == 409
    listed = c.get("/api/v1/usuarios?buscar=Íñigo").get_json()
    assert [u["id"] for u in listed["usuarios"]] == [71001]
    assert "clave_hash" not in str(listed)
    # The new student logs in with the temporary password and must change it.
    s = app.test_client()
    r = s.post("/api/v1/sesion", json={"id": 71001, "clave": temp})
    assert r.status_code == 200 and r.get_json()["usuario"]["debe_cambiar_clave"] is True
    # Scores: admins add/edit; validation refuses bad values and any unknown field. The
    # program may be changed, never read back (tests/portal/test_record_writes.py).
    assert c.put("/api/v1/resultados/71001", json={"matematicas": 101}, headers=h).status_code == 400
    r = c.put("/api/v1/resultados/71001", json={"clave": "x"}, headers=h)
    assert r.status_code == 400 and "clave" in r.get_json()["mensaje"]
    r = c.put("/api/v1/resultados/71001", json={"programa": 3}, headers=h)
    assert r.status_code == 200 and "programa" not in r.get_json()["resultado"]
    r = c.put("/api/v1/resultados/71001", json={"matematicas": 88, "ingles": 77, "ciencias": None, "premios": 2}, headers=h)
    assert r.status_code == 200 and r.get_json()["resultado"]["matematicas"] == 88
    assert store.student(71001)["ciencias"] is None
    r = c.delete("/api/v1/usuarios/71001", headers=h)
    assert r.status_code == 200
    assert store.student(71001) is None and store.get_user(71001) is None
    assert c.delete("/api/v1/usuarios/71001", headers=h).status_code == 404


def test_create_user_validation(admin_api):
    c, h = admin_api
    bad = [
        {"nombre": "", "rol": "profesor"},
        {"nombre": "X", "rol": "director"},
        {"nombre": "X", "rol": "estudiante"},  # no grade
        {"nombre": "X", "rol": "estudiante", "grado": 13},
        {"nombre": "X", "rol": "profesor", "id": "7"},
        {"nombre": "X", "rol": "profesor", "id": -3},
    ]
    for body in bad:
        r = c.post("/api/v1/usuarios", json=body, headers=h)
        assert r.status_code == 400 and r.get_json()["error"] == "solicitud_invalida", body
    r = c.post("/api/v1/usuarios", data="no json", headers={**h, "Content-Type": "application/json"})
    assert r.status_code == 400 and r.is_json


def test_admin_cannot_delete_self(admin_api, portal_db):
    c, h = admin_api
    r = c.delete(f"/api/v1/usuarios/{portal_db.accounts['administrador'][0]}", headers=h)
    assert r.status_code == 409


def test_reports_endpoints(clients, portal_db):
    c = clients["profesor"]
    rep = c.get("/api/v1/reporte").get_json()
    assert rep["reporte"]["run_id"] == portal_db.current_run
    assert {r["variable"] for r in rep["estadisticas"]} == set(schema.STAT_VARIABLES)
    tab = c.get("/api/v1/reporte/tablero?grado=9").get_json()
    assert tab["tablero"]["grado"] == 9
    runs = clients["administrador"].get("/api/v1/ejecuciones").get_json()["ejecuciones"]
    assert portal_db.current_run in [r["run_id"] for r in runs]
    if portal_db.failed_run:
        failed = next(r for r in runs if r["run_id"] == portal_db.failed_run)
        assert failed["estado"] == "fallida" and failed["error"]
        assert rep["reporte"]["nueva_ejecucion_fallida"] is True
    one = clients["administrador"].get(f"/api/v1/ejecuciones/{portal_db.current_run}").get_json()
    assert one["ejecucion"]["estado"] == "exitosa"
    q = clients["administrador"].get("/api/v1/cuarentena").get_json()
    assert q["run_id"] == portal_db.current_run and q["total"] == len(q["filas"]) or q["total"] > len(q["filas"])
    for row in q["filas"]:
        assert row["motivo"]


def test_errors_are_json_without_stack_traces(clients, app, monkeypatch):
    c = clients["profesor"]
    r = c.get("/api/v1/resultados/abc")
    assert r.status_code == 404 and r.is_json
    r = c.post("/api/v1/resultados/1")
    assert r.status_code in (400, 405) and r.is_json

    def boom(*a, **k):
        raise RuntimeError("secreto interno: mysql://root@db")

    monkeypatch.setattr(app.extensions["caoskol_store"], "students", boom)
    r = c.get("/api/v1/resultados")
    assert r.status_code == 500 and r.is_json
    text = r.get_data(as_text=True)
    assert "Traceback" not in text and "secreto" not in text and "mysql" not in text
    r = c.get("/profesor/estudiantes")
    assert r.status_code == 500 and "Traceback" not in r.get_data(as_text=True)


def test_no_credentials_in_urls(app):
    for rule in app.url_map.iter_rules():
        for arg in rule.arguments:
            assert arg not in ("clave", "password", "pw", "token"), rule.rule


def test_openapi_document_lists_every_api_route(app):
    import re
    from pathlib import Path

    import yaml

    spec = yaml.safe_load((Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml").read_text(encoding="utf-8"))
    documented = {(p, m.upper()) for p, ops in spec["paths"].items() for m in ops if m in ("get", "post", "put", "delete")}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)[len("/api/v1"):]
        for m in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, m) in documented, f"{m} {path} missing from docs/openapi.yaml"


def test_wrong_password_via_api_does_not_log_in(app):
    c = app.test_client()
    r = c.post("/api/v1/sesion", json={"id": TEACHER_ID, "clave": TEST_PASSWORD + "x"})
    assert r.status_code == 401 and r.get_json() == {"error": "credenciales", "mensaje": "ID o clave incorrectos.", "estado": 401}
    assert c.get("/api/v1/sesion").get_json()["autenticado"] is False
