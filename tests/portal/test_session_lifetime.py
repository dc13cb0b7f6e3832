"""The session cookie ends with the browser (no Expires/Max-Age: shared school computers),
and the server still ends every session CAOSKOL_SESSION_HOURS after login."""

from __future__ import annotations

import time
from datetime import timedelta

from portal_data import TEACHER_ID, TEST_PASSWORD
from portal_helpers import csrf_token, login, make_app, session_cookie


def session_set_cookies(response) -> list[str]:
    return [h for h in response.headers.getlist("Set-Cookie") if h.startswith("caoskol_sesion=")]


def authenticated(client) -> bool:
    return client.get("/api/v1/sesion").get_json()["autenticado"]


def test_session_cookie_has_no_expiry(app, portal_db):
    c = app.test_client()
    r = login(c, TEACHER_ID, TEST_PASSWORD)
    assert r.status_code == 302
    api = app.test_client()
    r2 = api.post("/api/v1/sesion", json={"id": TEACHER_ID, "clave": TEST_PASSWORD})
    assert r2.status_code == 200
    for response in (r, r2):
        [header] = session_set_cookies(response)
        lowered = header.lower()
        assert "expires=" not in lowered and "max-age=" not in lowered, header
    assert authenticated(c) and authenticated(api)


def test_an_idle_session_ends_after_the_lifetime(portal_db):
    app = make_app(portal_db.colegio_url, portal_db.reportes_url, PERMANENT_SESSION_LIFETIME=timedelta(seconds=1))
    try:
        c = app.test_client()
        assert login(c, TEACHER_ID, TEST_PASSWORD).status_code == 302
        assert authenticated(c)
        time.sleep(2.5)  # the lifetime is counted in whole seconds
        assert not authenticated(c)
        assert c.get("/api/v1/reporte").status_code == 401
        assert c.get("/profesor/").status_code == 302
    finally:
        app.extensions["caoskol_store"].dispose()


def test_rewriting_the_cookie_does_not_extend_the_session(app, portal_db, monkeypatch):
    """A message (flash) signs the cookie anew; the session still ends 8 h after login."""
    real = time.time
    c = app.test_client()
    admin_id, admin_pw = portal_db.accounts["administrador"]
    assert login(c, admin_id, admin_pw).status_code == 302
    first = session_cookie(c)

    monkeypatch.setattr(time, "time", lambda: real() + 7 * 3600)  # 7 h after login
    token = csrf_token(c)
    # Refused with a message ("No puede desactivar su propia cuenta."): the cookie is rewritten.
    assert c.post(f"/admin/usuarios/{admin_id}/desactivar", data={"csrf_token": token}).status_code == 302
    assert c.get("/admin/usuarios").status_code == 200
    assert session_cookie(c) != first and authenticated(c)

    # 8 h 30 min after login, 1 h 30 min after the cookie was last signed.
    monkeypatch.setattr(time, "time", lambda: real() + 8.5 * 3600)
    assert not authenticated(c)
    assert c.get("/admin/usuarios").status_code == 302
