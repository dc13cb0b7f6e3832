"""The API's errors are what docs/API.md and docs/openapi.yaml say.

Non-JSON bodies used to get 400 "Envíe un objeto JSON" where the docs promise 415
``json_requerido``; ``metodo_no_permitido``, ``propia_cuenta`` and ``clave_rechazada`` were
undocumented; API 403 messages talked about "esta página".
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from portal_data import OTHER_STUDENT_ID, TEACHER_ID, TEST_PASSWORD
from portal_helpers import csrf_token

from caoskol_portal import views

ROOT = Path(__file__).resolve().parents[2]
PORTAL = ROOT / "web" / "caoskol_portal"
# Every code as the code writes it: error(status, "code", ...), json_error(status, "code", ...),
# jsonify(error="code", ...),
# error_response(status, message, "code"), and views.CODES (HTTP errors).
PATTERNS = [r'\berror\(\s*\d{3},\s*"([a-z_]+)"', r'\bjson_error\(\s*\d{3},\s*"([a-z_]+)"', r'\berror="([a-z_]+)"', r'error_response\(.*,\s*"([a-z_]+)"\)']
# What the grep must find at least, so a change in how the code writes codes cannot leave it
# finding nothing.
KNOWN = {"solicitud_invalida", "no_autenticado", "prohibido", "no_encontrado", "metodo_no_permitido",
         "demasiado_grande", "json_requerido", "demasiados_intentos", "error_interno", "no_disponible", "csrf",
         "debe_cambiar_clave", "credenciales", "clave_rechazada", "ya_existe", "propia_cuenta", "sin_reporte"}


def emitted_codes() -> set[str]:
    found = set(views.CODES.values())
    for path in PORTAL.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        for pattern in PATTERNS:
            found |= set(re.findall(pattern, text))
    return found


def test_every_error_code_is_documented():
    codes = emitted_codes()
    assert codes >= KNOWN, sorted(KNOWN - codes)
    for doc in ("API.md", "openapi.yaml"):
        text = (ROOT / "docs" / doc).read_text(encoding="utf-8")
        missing = sorted(c for c in codes if not re.search(rf"\b{c}\b", text))
        assert not missing, f"docs/{doc} does not mention {missing}"


@pytest.fixture()
def admin_api(app, portal_db):
    c = app.test_client()
    uid, pw = portal_db.accounts["administrador"]
    r = c.post("/api/v1/sesion", json={"id": uid, "clave": pw})
    return c, {"X-CSRFToken": r.get_json()["csrf_token"]}


def test_non_json_bodies_get_415(admin_api, app):
    c, h = admin_api
    calls = [("POST", "/api/v1/usuarios"), ("PUT", f"/api/v1/resultados/{OTHER_STUDENT_ID}"),
             ("POST", "/api/v1/sesion/clave")]
    for method, url in calls:
        for kwargs in ({"data": {"nombre": "Ana", "rol": "profesor"}}, {"data": "nombre=Ana"},
                       {"data": '{"nombre": "Ana"}', "content_type": "text/plain"}, {}):
            r = c.open(url, method=method, headers=h, **kwargs)
            assert r.status_code == 415, (method, url, kwargs, r.status_code)
            assert r.get_json()["error"] == "json_requerido" and r.get_json()["estado"] == 415
    # JSON, but not an object: still a 400 (the body is invalid, its type is right).
    for method, url in calls:
        r = c.open(url, method=method, headers=h, json=["no", "objeto"])
        assert r.status_code == 400 and r.get_json()["error"] == "solicitud_invalida", (method, url)
    # The login too (no session, no CSRF token needed).
    r = app.test_client().post("/api/v1/sesion", data={"id": str(TEACHER_ID), "clave": TEST_PASSWORD})
    assert r.status_code == 415 and r.get_json()["error"] == "json_requerido"
    # Without a CSRF token or a session, those come first.
    assert c.post("/api/v1/usuarios", data="x").get_json()["error"] == "csrf"
    anonymous = app.test_client()
    r = anonymous.post("/api/v1/usuarios", data="x", headers={"X-CSRFToken": csrf_token(anonymous)})
    assert r.status_code == 401 and r.get_json()["error"] == "no_autenticado"


def test_api_messages_do_not_talk_about_pages(clients):
    r = clients["estudiante"].get("/api/v1/usuarios")
    assert r.status_code == 403 and r.get_json() == {"error": "prohibido", "mensaje": "No tiene permiso para esta operación.",
                                                     "estado": 403}
    r = clients["profesor"].delete(f"/api/v1/usuarios/{OTHER_STUDENT_ID}")  # no CSRF token
    assert r.status_code == 400 and r.get_json()["error"] == "csrf"
    assert "página" not in r.get_json()["mensaje"] and "formulario" not in r.get_json()["mensaje"]
    # The pages keep theirs.
    assert "No tiene permiso para ver esta página." in clients["estudiante"].get("/admin/").get_data(as_text=True)


def test_documented_codes_are_the_ones_returned(admin_api, clients, portal_db):
    c, h = admin_api
    r = c.delete(f"/api/v1/usuarios/{portal_db.accounts['administrador'][0]}", headers=h)
    assert (r.status_code, r.get_json()["error"]) == (409, "propia_cuenta")
    r = c.post("/api/v1/resultados", headers=h, json={})
    assert (r.status_code, r.get_json()["error"]) == (405, "metodo_no_permitido")
    p = clients["profesor"]
    r = p.post("/api/v1/sesion/clave", json={"actual": "mala", "nueva": "otra-clave-larga"},
               headers={"X-CSRFToken": csrf_token(p)})
    assert (r.status_code, r.get_json()["error"]) == (400, "clave_rechazada")


def test_every_json_error_has_the_documented_shape(clients, admin_api, app):
    # {error, mensaje, estado} whatever refused the call: the session hook (401), the
    # password-change gate (403), a view (404), the error handlers (405).
    c, h = admin_api
    app.extensions["caoskol_store"].delete_user(71077)
    made = c.post("/api/v1/usuarios", json={"id": 71077, "nombre": "Nueva Clave", "rol": "profesor"}, headers=h)
    assert made.status_code == 201
    fresh = app.test_client()
    assert fresh.post("/api/v1/sesion", json={"id": 71077, "clave": made.get_json()["clave_temporal"]}).status_code == 200
    seen = {
        "no_autenticado": clients["anonimo"].get("/api/v1/resultados"),
        "debe_cambiar_clave": fresh.get("/api/v1/reporte"),
        "no_encontrado": clients["profesor"].get("/api/v1/resultados/999999999"),
        "metodo_no_permitido": clients["profesor"].delete("/api/v1/reporte"),
    }
    for code, r in seen.items():
        body = r.get_json()
        assert body == {"error": code, "mensaje": body["mensaje"], "estado": r.status_code}, (code, body)
    app.extensions["caoskol_store"].delete_user(71077)
