"""Security headers and CSP, no third-party origins, health checks, structured logs, cache."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
from portal_data import TEACHER_ID, TEST_PASSWORD
from portal_helpers import login, login_as, make_app, session_cookie

WEB = Path(__file__).resolve().parents[2] / "web"


@pytest.mark.parametrize("role,url", [("anonimo", "/"), ("profesor", "/profesor/"), ("profesor", "/api/v1/reporte"),
                                      ("administrador", "/admin/usuarios"), ("anonimo", "/healthz"),
                                      ("anonimo", "/no-existe"), ("estudiante", "/estudiante/")])
def test_security_headers_on_every_kind_of_response(clients, role, url):
    r = clients[role].get(url)
    csp = r.headers["Content-Security-Policy"]
    directives = dict((d.strip().split(" ", 1) + [""])[:2] for d in csp.split(";") if d.strip())
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert "http" not in csp and "*" not in csp and "unsafe" not in csp  # no third-party origin, no inline code
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["Referrer-Policy"] == "same-origin"
    if url != "/healthz":
        assert r.headers["Cache-Control"] == "no-store"


def test_pages_load_nothing_from_other_origins(clients):
    pages = ["/", "/profesor/", "/profesor/estudiantes", "/admin/", "/admin/usuarios", "/admin/ejecuciones"]
    for url in pages:
        role = "anonimo" if url == "/" else ("administrador" if url.startswith("/admin") else "profesor")
        html = clients[role].get(url).get_data(as_text=True)
        for attr in re.findall(r'(?:src|href)="([^"]+)"', html):
            if attr.startswith(("http://", "https://", "//")):
                assert attr.startswith("http://127.0.0.1:8080"), (url, attr)  # only the Airflow UI link
        assert "<script>" not in html and " on" + "click=" not in html  # no inline script or handler
        assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", html), url


def test_chart_library_is_built_from_npm_not_committed():
    pkg = json.loads((WEB / "package.json").read_text())
    assert pkg["dependencies"]["chart.js"] == "4.6.1"  # exact pin
    lock = json.loads((WEB / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/chart.js"]["version"] == "4.6.1"
    assert lock["packages"]["node_modules/chart.js"]["integrity"].startswith("sha512-")
    ignore = (WEB / ".gitignore").read_text()
    assert "caoskol_portal/static/vendor/" in ignore and "node_modules/" in ignore
    import subprocess

    tracked = subprocess.run(["git", "ls-files", "web"], cwd=WEB.parent, capture_output=True, text=True).stdout
    assert "static/vendor" not in tracked and "node_modules" not in tracked


def test_static_js_is_served_with_csp_compatible_type(client):
    r = client.get("/static/js/graficos.js")
    assert r.status_code == 200 and "javascript" in r.content_type
    assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_healthz_and_readyz(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.get_json() == {"estado": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200 and r.get_json()["bases"] == {"colegio": "ok", "reportes": "ok"}


def test_readyz_fails_when_a_database_is_unreachable(portal_db):
    app = make_app(portal_db.colegio_url, "mysql+mysqldb://root@127.0.0.1:1/nada?connect_timeout=2")
    c = app.test_client()
    assert c.get("/healthz").status_code == 200  # the process is up...
    r = c.get("/readyz")  # ...but not ready
    assert r.status_code == 503
    body = r.get_json()
    assert body["estado"] == "no_listo" and body["bases"]["colegio"] == "ok"
    assert body["bases"]["reportes"].startswith("error") and "root" not in json.dumps(body)
    app.extensions["caoskol_store"].dispose()


def test_access_logs_are_json_without_secrets(app, caplog):
    caplog.set_level(logging.INFO, logger="caoskol_portal")
    c = app.test_client()
    secret_pw = TEST_PASSWORD
    login(c, TEACHER_ID, secret_pw)
    login(c, TEACHER_ID, "una-clave-equivocada")
    login(c, TEACHER_ID, secret_pw)
    cookie = session_cookie(c)
    c.get("/profesor/?grado=7")
    records = [r for r in caplog.records if r.name.startswith("caoskol_portal")]
    from caoskol_portal.logs import JsonFormatter

    lines = [JsonFormatter().format(r) for r in records]
    access = [json.loads(line) for line in lines if '"evento": "acceso"' in line]
    assert any(a["ruta"] == "/login" and a["metodo"] == "POST" and a["estado"] == 401 for a in access)
    dash = next(a for a in access if a["ruta"] == "/profesor/")
    assert dash["usuario"] == TEACHER_ID and dash["rol"] == "profesor" and dash["estado"] == 200
    assert isinstance(dash["ms"], float) and dash["request_id"]
    everything = "\n".join(lines)
    for secret in (secret_pw, "una-clave-equivocada", cookie, "csrf_token"):
        assert secret not in everything
    assert "grado=7" not in everything  # no query strings
    assert any(json.loads(line).get("evento") == "login_fallido" for line in lines)


def test_report_cache_is_keyed_by_run_version(app, portal_db):
    from datetime import datetime

    from sqlalchemy import update

    from caoskol import db, schema

    reports = app.extensions["caoskol_reports"]
    c = app.test_client()
    login(c, TEACHER_ID, TEST_PASSWORD)
    calls = {"n": 0}
    store = app.extensions["caoskol_store"]
    original = store.estadisticas

    def counting(run_id):
        calls["n"] += 1
        return original(run_id)

    store.estadisticas = counting
    try:
        for _ in range(5):
            assert c.get("/profesor/").status_code == 200
            assert c.get("/api/v1/reporte/tablero").status_code == 200
        assert calls["n"] == 1  # read once for the run, then served from the cache
        # A re-publish (the pointer moves again, even to the same run id) is seen at once.
        eng = db.engine(portal_db.reportes_url)
        with eng.begin() as conn:
            conn.execute(update(schema.reporte_actual).where(schema.reporte_actual.c.id == 1)
                         .values(publicado_en=datetime(2031, 1, 1)))
        try:
            assert c.get("/profesor/").status_code == 200
            assert calls["n"] == 2
        finally:
            with eng.begin() as conn:
                conn.execute(update(schema.reporte_actual).where(schema.reporte_actual.c.id == 1)
                             .values(publicado_en=datetime.utcnow()))
            eng.dispose()
    finally:
        store.estadisticas = original
    assert reports.cache.hits > 0


def test_dashboard_page_cache_is_per_session_and_run(app, portal_db):
    """The teacher dashboard is rendered once per session, run state and grade, then reused:
    never shown to another account, re-rendered when the run moves, and a page with a
    pending message is never cached."""
    from datetime import datetime

    from sqlalchemy import select, update

    from caoskol import db, schema

    pages = app.extensions["caoskol_reports"].page_cache
    teacher, admin = app.test_client(), app.test_client()
    login_as(teacher, portal_db, "profesor")
    login_as(admin, portal_db, "administrador")
    eng = db.engine(portal_db.colegio_url)
    with eng.connect() as conn:
        names = dict(conn.execute(select(schema.usuarios.c.id, schema.usuarios.c.nombre)).all())
    eng.dispose()
    teacher_name = names[portal_db.accounts["profesor"][0]]
    admin_name = names[portal_db.accounts["administrador"][0]]

    teacher.get("/profesor/")  # the first page after login creates the session's CSRF secret
    first = teacher.get("/profesor/").get_data(as_text=True)
    hits = pages.hits
    again = teacher.get("/profesor/").get_data(as_text=True)
    assert again == first and pages.hits == hits + 1  # served from the cache
    seven = teacher.get("/profesor/?grado=7").get_data(as_text=True)
    assert "grado 7°" in seven and seven != first  # the filter is part of the key

    admin.get("/profesor/")
    other = admin.get("/profesor/").get_data(as_text=True)
    assert admin_name in other and teacher_name not in other  # never another session's page
    assert teacher_name in first and admin_name not in first

    # The logout form of the cached page still works: its CSRF token belongs to this session.
    token = re.search(r'name="csrf_token" value="([^"]+)"', again).group(1)
    assert teacher.post("/logout", data={"csrf_token": token}).status_code == 302
    assert teacher.get("/profesor/").status_code == 302  # logged out, cache or not

    # A re-publish changes the run version: the cached page is not served any more.
    eng = db.engine(portal_db.reportes_url)
    when = datetime(2031, 1, 1)
    try:
        with eng.begin() as conn:
            conn.execute(update(schema.reporte_actual).where(schema.reporte_actual.c.id == 1)
                         .values(publicado_en=when))
        misses = pages.misses
        assert admin.get("/profesor/").status_code == 200
        assert pages.misses == misses + 1
    finally:
        with eng.begin() as conn:
            conn.execute(update(schema.reporte_actual).where(schema.reporte_actual.c.id == 1)
                         .values(publicado_en=datetime.utcnow()))
        eng.dispose()
