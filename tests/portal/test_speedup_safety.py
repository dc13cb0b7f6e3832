"""What the portal's speed-ups must not break: the per-session page cache, the session
check remembered for ``SESSION_CHECK_TTL`` seconds, the limiter checking writes only, the
access log that loads no user on its own, and grade filters from the URL.
"""

from __future__ import annotations

import logging
import random
import re

import pytest
from portal_data import HASH_METHOD
from portal_helpers import csrf_token, login, login_as, make_app, session_cookie
from werkzeug.security import generate_password_hash

PW = "clave-de-revision-123"


@pytest.fixture()
def accounts(app):
    """Throwaway accounts (own ids), so disabling or logging them out never touches the
    shared fixture accounts."""
    store = app.extensions["caoskol_store"]
    made = []

    def make(rol: str, nombre: str | None = None) -> int:
        uid = random.randint(800_000_000, 900_000_000)
        store.create_user(uid, nombre or f"Revisión {rol} {uid}", rol, generate_password_hash(PW, method=HASH_METHOD),
                          grado=7 if rol == "estudiante" else None, debe_cambiar=False)
        made.append(uid)
        return uid

    yield make
    for uid in made:
        store.delete_user(uid)


def logged_in(app, uid):
    c = app.test_client()
    assert login(c, uid, PW).status_code == 302
    c.get("/profesor/")  # first page after login creates the CSRF secret (never cached)
    return c


class AccessLog(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)


# --- the page cache ----------------------------------------------------------------------------


def test_page_cache_never_crosses_sessions_roles_or_tokens(app, accounts):
    t1, t2 = accounts("profesor", "Docente Uno"), accounts("profesor", "Docente Dos")
    adm, est = accounts("administrador", "Admin Rev"), accounts("estudiante", "Alumno Rev")
    a, a2, b, c = logged_in(app, t1), logged_in(app, t1), logged_in(app, t2), logged_in(app, adm)
    pages = {k: cl.get("/profesor/").get_data(as_text=True) for k, cl in (("a", a), ("a2", a2), ("b", b), ("c", c))}
    pages_again = {k: cl.get("/profesor/").get_data(as_text=True) for k, cl in (("a", a), ("a2", a2), ("b", b), ("c", c))}
    assert pages == pages_again  # cached
    tok = {k: re.search(r'name="csrf_token" value="([^"]+)"', v).group(1) for k, v in pages.items()}
    assert "Docente Uno" in pages["a"] and "Docente Dos" not in pages["a"]
    assert "Administración" in pages["c"] and "Administración" not in pages["a"]
    # Two sessions of one account get different pages (their own CSRF secrets).
    assert tok["a"] != tok["a2"]
    assert b.post("/logout", data={"csrf_token": tok["a"]}).status_code == 400  # another session's token
    assert b.get("/profesor/").status_code == 200
    s = app.test_client()
    assert login(s, est, PW).status_code == 302
    assert s.get("/profesor/").status_code == 403
    assert s.head("/profesor/").status_code == 403


def test_page_cache_disable_reset_logout_in_this_process(app, accounts):
    store = app.extensions["caoskol_store"]
    cfg_ttl = app.extensions["caoskol_session_cache"].ttl
    app.extensions["caoskol_session_cache"].ttl = 1.0  # the production default
    try:
        t = accounts("profesor")
        a = logged_in(app, t)
        assert a.get("/profesor/").status_code == 200
        stolen = session_cookie(a)
        store.set_active(t, False)  # as the admin's POST in this process does
        assert a.get("/profesor/").status_code == 302
        store.set_active(t, True)
        a = logged_in(app, t)
        a.get("/profesor/")
        store.set_password(t, generate_password_hash(PW, method=HASH_METHOD), True)
        assert a.get("/profesor/").status_code == 302
        replay = app.test_client()
        replay.set_cookie("caoskol_sesion", stolen)
        assert replay.get("/profesor/").status_code == 302
    finally:
        app.extensions["caoskol_session_cache"].ttl = cfg_ttl


def test_flash_is_shown_once_even_with_a_warm_page_cache(app, accounts):
    a = logged_in(app, accounts("profesor"))
    a.get("/profesor/")
    a.get("/profesor/")  # warm
    with a.session_transaction() as sess:
        sess["_flashes"] = [("info", "Mensaje de prueba")]
    assert "Mensaje de prueba" in a.get("/profesor/").get_data(as_text=True)
    assert "Mensaje de prueba" not in a.get("/profesor/").get_data(as_text=True)


def test_odd_grade_values_do_not_multiply_entries(app, accounts):
    pages = app.extensions["caoskol_reports"].page_cache
    a = logged_in(app, accounts("profesor"))
    a.get("/profesor/")
    before = len(pages._data)
    for g in ["", "07", "7", "007", "99", "-1", "x", "6 ", "+7", "0", "12", "13", "٣"] + [str(i) for i in range(200)]:
        assert a.get("/profesor/", query_string={"grado": g}).status_code == 200
    assert len(pages._data) - before <= 7  # one per grade + "all" (the session already had "all")


def test_cached_pages_keep_headers_and_no_programa(app, accounts):
    a = logged_in(app, accounts("profesor"))
    for url in ("/profesor/", "/profesor/", "/api/v1/reporte/tablero", "/api/v1/reporte/tablero?grado=7"):
        r = a.get(url)
        assert r.status_code == 200
        assert r.headers["Cache-Control"] == "no-store"
        assert "default-src 'self'" in r.headers["Content-Security-Policy"]
        assert "programa" not in r.get_data(as_text=True).lower()


def test_head_options_and_override_do_not_reach_login(app, portal_db):
    c = app.test_client()
    for m in ("HEAD", "OPTIONS"):  # never run the login view: nothing to limit
        assert c.open("/login", method=m).status_code in (200, 302)
        assert c.open("/api/v1/sesion", method=m).status_code == 200
    assert c.post("/api/v1/sesion", json={"id": "1", "clave": "x"},
                  headers={"X-HTTP-Method-Override": "GET"}).status_code == 401


# --- races and odd input -----------------------------------------------------------------------


def test_access_log_attributes_refused_authenticated_api_calls(app, accounts):
    adm = accounts("administrador")
    c = logged_in(app, adm)
    handler = AccessLog()
    log = logging.getLogger("caoskol_portal.access")
    log.addHandler(handler)
    try:
        # A state-changing API call with the admin's cookie but no CSRF token (what a
        # cross-site forgery attempt looks like), and a wrong method.
        assert c.post("/api/v1/usuarios", json={"nombre": "x", "rol": "profesor"}).status_code == 400
        assert c.put("/api/v1/sesion").status_code == 405
    finally:
        log.removeHandler(handler)
    assert [(r.estado, r.usuario) for r in handler.records] == [(400, adm), (405, adm)]


def test_logout_during_an_in_flight_session_check_is_not_forgotten(portal_db, accounts, app):
    # `app` (TTL 0) only provides the accounts fixture; the app under test uses the default TTL.
    worker = make_app(portal_db.colegio_url, portal_db.reportes_url, SESSION_CHECK_TTL=1.0)
    store = worker.extensions["caoskol_store"]
    try:
        t = accounts("profesor")
        a = worker.test_client()
        assert login(a, t, PW).status_code == 302
        stolen = session_cookie(a)
        original = store.user_for_session

        def interleaved(uid):
            row = original(uid)  # thread 1: the session check reads the row (old version) ...
            store.end_sessions(uid)  # thread 2: the user logs out in this process: commit + forget
            return row  # ... thread 1 then stores the row it read, after the forget

        store.user_for_session = interleaved
        assert a.get("/profesor/").status_code == 200  # the request that raced the logout
        store.user_for_session = original
        replay = worker.test_client()
        replay.set_cookie("caoskol_sesion", stolen)
        # The logout was handled by this process: the docstring promises the old cookie stops at once.
        assert replay.get("/profesor/").status_code == 302
    finally:
        store.dispose()


def test_newer_cookie_is_not_refused_by_a_stale_row_in_another_worker(portal_db, accounts, app):
    w1 = make_app(portal_db.colegio_url, portal_db.reportes_url, SESSION_CHECK_TTL=1.0)
    w2 = make_app(portal_db.colegio_url, portal_db.reportes_url, SESSION_CHECK_TTL=1.0)
    try:
        t = accounts("profesor")
        a = w1.test_client()
        assert login(a, t, PW).status_code == 302
        b = w2.test_client()
        b.set_cookie("caoskol_sesion", session_cookie(a))
        assert b.get("/profesor/").status_code == 200  # worker 2 now holds the row (version v)
        # The user logs out and in again (or changes the password) on worker 1: version v+1.
        a.post("/logout", data={"csrf_token": csrf_token(a)})
        assert login(a, t, PW).status_code == 302
        b.set_cookie("caoskol_sesion", session_cookie(a))
        assert b.get("/profesor/").status_code == 200  # the next request lands on worker 2
    finally:
        for w in (w1, w2):
            w.extensions["caoskol_store"].dispose()


def test_odd_digit_grades_are_not_server_errors(app, accounts):
    a = logged_in(app, accounts("profesor"))
    for g in ("³", "9" * 5000):
        assert a.get("/profesor/", query_string={"grado": g}).status_code == 200
        assert a.get("/api/v1/reporte/tablero", query_string={"grado": g}).status_code == 200


def test_a_deleted_accounts_cookie_does_not_open_a_new_account_with_its_id(app, portal_db):
    """IDs are typed by administrators and reused; session versions must not restart at a
    value an old cookie already carries."""
    store = app.extensions["caoskol_store"]
    uid = random.randint(900_000_001, 999_999_999)
    store.create_user(uid, "Cuenta Borrada", "profesor", generate_password_hash(PW, method=HASH_METHOD),
                      debe_cambiar=False)
    try:
        a = app.test_client()
        assert login(a, uid, PW).status_code == 302
        old_cookie = session_cookie(a)
        assert a.get("/profesor/").status_code == 200
        store.delete_user(uid)
        store.create_user(uid, "Cuenta Nueva", "administrador",
                          generate_password_hash("otra-clave-distinta-1", method=HASH_METHOD), debe_cambiar=False)
        replay = app.test_client()
        replay.set_cookie("caoskol_sesion", old_cookie)
        assert replay.get("/admin/").status_code == 302
        assert replay.get("/api/v1/usuarios").status_code == 401
    finally:
        store.delete_user(uid)
