"""Helpers shared by the portal tests and the browser tests (importable: tests/portal is on sys.path)."""

from __future__ import annotations

import os
import re

from caoskol_portal import create_app

ROLES = ("estudiante", "profesor", "administrador")


def make_app(colegio_url: str, reportes_url: str, **overrides):
    config = {
        "ENV_MODE": "development",
        "SECRET_KEY": "tests-" + "x" * 32,
        "COLEGIO_URL": colegio_url,
        "REPORTES_URL": reportes_url,
        "AIRFLOW_URL": "http://127.0.0.1:8080",
        "RATELIMIT_STORAGE_URI": "memory://",
        "REPORT_STATE_TTL": 0,  # tests change the pointer and expect to see it on the next request
        # Tests change accounts behind the app's back (as another worker would) and expect the
        # next request to see it; the default (1 s) has its own test in test_auth.py.
        "SESSION_CHECK_TTL": 0,
        "TESTING": False,  # keep real error handling (no exception propagation)
        **overrides,
    }
    env = {k: os.environ.get(k) for k in ("CAOSKOL_ENV", "CAOSKOL_SECRET_KEY")}
    os.environ["CAOSKOL_ENV"] = "development"
    os.environ["CAOSKOL_SECRET_KEY"] = config["SECRET_KEY"]
    try:
        return create_app(config)
    finally:
        for k, v in env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def csrf_token(client) -> str:
    return client.get("/api/v1/sesion").get_json()["csrf_token"]


def login(client, user_id, password, follow=False):
    token = csrf_token(client)
    return client.post("/login", data={"id": str(user_id), "clave": password, "csrf_token": token},
                       follow_redirects=follow)


def login_as(client, portal_db, role: str):
    uid, pw = portal_db.accounts[role]
    resp = login(client, uid, pw)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    return uid


def session_cookie(client) -> str | None:
    cookie = client.get_cookie("caoskol_sesion")
    return cookie.value if cookie else None


def visible_text(html: str) -> str:
    html = re.sub(r"<script.*?</script>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)
