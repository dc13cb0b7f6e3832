"""Login, sessions, cookies, CSRF, rate limits, password handling."""

from __future__ import annotations

import pytest
from portal_data import ADMIN_ID, MUST_CHANGE_ID, STUDENT_ID, TEACHER_ID, TEST_PASSWORD
from portal_helpers import csrf_token, login, login_as, make_app, session_cookie
from sqlalchemy import select, update
from werkzeug.security import check_password_hash

from caoskol import db, schema
from caoskol_portal import ConfigError, create_app


def test_landing_page_is_the_login_form(client):
    r = client.get("/")
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "Resultados de Pruebas Anuales" in html and "Colegio Caoskol" in html
    assert 'method="post"' in html and 'name="csrf_token"' in html
    assert r.content_type == "text/html; charset=utf-8"


@pytest.mark.parametrize("role,home", [("estudiante", "/estudiante/"), ("profesor", "/profesor/"), ("administrador", "/admin/")])
def test_each_role_lands_on_its_dashboard(client, portal_db, role, home):
    uid, pw = portal_db.accounts[role]
    r = login(client, uid, pw)
    assert r.status_code == 302 and r.location == home
    assert client.get("/").location == home  # already logged in: the landing page sends you home
    assert client.get(home).status_code == 200


def test_unknown_id_and_wrong_password_get_the_same_answer(client, portal_db):
    wrong_pw = login(client, TEACHER_ID, "no-es-esta")
    unknown = login(client, 999999, TEST_PASSWORD)
    assert wrong_pw.status_code == unknown.status_code == 401
    msg = "ID o clave incorrectos."
    a, b = wrong_pw.get_data(as_text=True), unknown.get_data(as_text=True)
    assert msg in a and msg in b
    # Same page apart from the echoed ID field and the CSRF token.
    assert a.replace(str(TEACHER_ID), "X").count("ID o clave") == b.replace("999999", "X").count("ID o clave")
    api_a = client.post("/api/v1/sesion", json={"id": TEACHER_ID, "clave": "no-es-esta"})
    api_b = client.post("/api/v1/sesion", json={"id": 999999, "clave": TEST_PASSWORD})
    assert api_a.status_code == api_b.status_code == 401
    assert api_a.get_json() == api_b.get_json()


def test_disabled_account_cannot_log_in(app, client, portal_db):
    store = app.extensions["caoskol_store"]
    store.delete_user(70001)
    store.create_user(70001, "Cuenta Desactivada", "profesor", _hash(TEST_PASSWORD), debe_cambiar=False)
    assert login(client, 70001, TEST_PASSWORD).status_code == 302
    store.set_active(70001, False)
    # The open session ends too (the session version moved).
    assert client.get("/profesor/").status_code == 302
    r = login(client, 70001, TEST_PASSWORD)
    assert r.status_code == 401 and "ID o clave incorrectos." in r.get_data(as_text=True)


@pytest.mark.parametrize("user_id", ["1' OR '1'='1", "401 OR 1=1", "401; DROP TABLE usuarios", "-1", "0x191", "٤٠١", ""])
def test_injection_like_ids_simply_fail(client, user_id, portal_db):
    r = login(client, user_id, "' OR '1'='1")
    assert r.status_code == 401
    r = client.post("/api/v1/sesion", json={"id": user_id, "clave": "' OR '1'='1"})
    assert r.status_code == 401
    eng = db.engine(portal_db.colegio_url)
    with eng.connect() as conn:  # nothing was dropped
        assert conn.execute(select(schema.usuarios.c.id).where(schema.usuarios.c.id == TEACHER_ID)).scalar() == TEACHER_ID
    eng.dispose()


def test_old_login_route_with_credentials_in_the_url_does_not_exist(client, portal_db):
    for path in (f"/login/{TEACHER_ID}/{TEST_PASSWORD}", f"/login/{TEACHER_ID}/1234", f"/login?id={TEACHER_ID}&clave={TEST_PASSWORD}"):
        r = client.get(path)
        assert r.status_code in (302, 404), path
        assert session_cookie(client) is None or client.get("/api/v1/sesion").get_json()["autenticado"] is False
    assert client.get(f"/login/{TEACHER_ID}/{TEST_PASSWORD}").status_code == 404


def test_passwords_are_salted_hashes(portal_db):
    eng = db.engine(portal_db.colegio_url)
    with eng.connect() as conn:
        hashes = dict(conn.execute(select(schema.usuarios.c.id, schema.usuarios.c.clave_hash)
                                   .where(schema.usuarios.c.id.in_([STUDENT_ID, TEACHER_ID, ADMIN_ID]))).all())
    eng.dispose()
    assert len(set(hashes.values())) == 3  # same password, different salts
    for h in hashes.values():
        assert TEST_PASSWORD not in h and h.count("$") == 2
        assert check_password_hash(h, TEST_PASSWORD)


def test_session_identifier_rotates_at_login(client, portal_db):
    client.get("/")  # an anonymous session (the CSRF token lives there)
    csrf_token(client)
    before = session_cookie(client)
    assert before
    login_as(client, portal_db, "profesor")
    after = session_cookie(client)
    assert after and after != before
    # Logging in again rotates again.
    login_as(client, portal_db, "profesor")
    assert session_cookie(client) not in (before, after)


def test_pre_login_cookie_is_not_authenticated_after_login(app, portal_db):
    attacker = app.test_client()
    csrf_token(attacker)
    planted = session_cookie(attacker)
    victim = app.test_client()
    victim.set_cookie("caoskol_sesion", planted)
    login_as(victim, portal_db, "profesor")
    # The planted cookie value was replaced; the attacker's copy is still anonymous.
    assert attacker.get("/profesor/").status_code == 302
    assert session_cookie(victim) != planted


def _cookie_header(resp) -> str:
    return next(v for k, v in resp.headers.items() if k == "Set-Cookie" and v.startswith("caoskol_sesion="))


def test_cookie_flags_over_http_and_https(app, portal_db):
    http = app.test_client()
    r = login(http, TEACHER_ID, TEST_PASSWORD)
    header = _cookie_header(r)
    assert "HttpOnly" in header and "SameSite=Lax" in header
    assert "Secure" not in header  # plain HTTP (development): a Secure cookie would not come back

    https = app.test_client()
    token = https.get("/api/v1/sesion", base_url="https://localhost").get_json()["csrf_token"]
    r = https.post("/login", base_url="https://localhost", headers={"Referer": "https://localhost/"},
                   data={"id": str(TEACHER_ID), "clave": TEST_PASSWORD, "csrf_token": token})
    assert r.status_code == 302
    header = _cookie_header(r)
    assert "Secure" in header and "HttpOnly" in header and "SameSite=Lax" in header
    assert r.headers.get("Strict-Transport-Security")


def test_secure_cookie_behind_a_tls_terminating_proxy(portal_db):
    app = make_app(portal_db.colegio_url, portal_db.reportes_url, TRUST_PROXY=True)
    # ProxyFix is applied in create_app from the config read at start; rebuild with it on.
    c = app.test_client()
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9", "X-Forwarded-Host": "localhost"}
    token = c.get("/api/v1/sesion", headers=headers).get_json()["csrf_token"]
    r = c.post("/login", headers={**headers, "Referer": "https://localhost/"},
               data={"id": str(TEACHER_ID), "clave": TEST_PASSWORD, "csrf_token": token})
    assert r.status_code == 302
    assert "Secure" in _cookie_header(r)
    app.extensions["caoskol_store"].dispose()


def test_logout_is_server_side(app, portal_db):
    c = app.test_client()
    login_as(c, portal_db, "profesor")
    stolen = session_cookie(c)
    assert c.get("/profesor/").status_code == 200
    r = c.post("/logout", data={"csrf_token": csrf_token(c)})
    assert r.status_code == 302 and r.location == "/"
    assert c.get("/profesor/").status_code == 302
    # A copy of the cookie taken before logout no longer opens anything.
    replay = app.test_client()
    replay.set_cookie("caoskol_sesion", stolen)
    assert replay.get("/profesor/").status_code == 302
    assert replay.get("/api/v1/reporte").status_code == 401


def test_logout_needs_post_and_csrf(app, portal_db):
    c = app.test_client()
    login_as(c, portal_db, "profesor")
    assert c.get("/logout").status_code == 405
    assert c.post("/logout").status_code == 400  # no CSRF token
    assert c.get("/profesor/").status_code == 200  # still logged in


def test_csrf_required_on_every_form_and_session_api_call(app, portal_db):
    c = app.test_client()
    assert c.post("/login", data={"id": str(TEACHER_ID), "clave": TEST_PASSWORD}).status_code == 400
    login_as(c, portal_db, "administrador")
    no_token = [
        ("POST", "/admin/usuarios", {"data": {"nombre": "X", "rol": "profesor"}}),
        ("POST", f"/admin/usuarios/{TEACHER_ID}/clave", {"data": {}}),
        ("POST", f"/admin/usuarios/{TEACHER_ID}/desactivar", {"data": {}}),
        ("POST", f"/admin/usuarios/{TEACHER_ID}/eliminar", {"data": {"confirmar": str(TEACHER_ID)}}),
        ("POST", "/cambiar-clave", {"data": {"actual": "a", "nueva": "b" * 9, "confirmacion": "b" * 9}}),
        ("POST", "/api/v1/usuarios", {"json": {"nombre": "X", "rol": "profesor"}}),
        ("DELETE", f"/api/v1/usuarios/{TEACHER_ID}", {}),
        ("PUT", f"/api/v1/resultados/{STUDENT_ID}", {"json": {"matematicas": 1}}),
        ("DELETE", "/api/v1/sesion", {}),
        ("POST", "/api/v1/sesion/clave", {"json": {"actual": "a", "nueva": "b" * 9}}),
    ]
    for method, url, kw in no_token:
        r = c.open(url, method=method, **kw)
        assert r.status_code == 400, (method, url, r.status_code)
        if url.startswith("/api/"):
            assert r.get_json()["error"] == "csrf"
    # Nothing happened: the teacher is still active and can log in.
    assert login(app.test_client(), TEACHER_ID, TEST_PASSWORD).status_code == 302
    # A token from another session does not work either.
    other = app.test_client()
    foreign = csrf_token(other)
    r = c.delete(f"/api/v1/usuarios/{TEACHER_ID}", headers={"X-CSRFToken": foreign})
    assert r.status_code == 400


def test_json_login_needs_json(client, portal_db):
    r = client.post("/api/v1/sesion", data={"id": str(TEACHER_ID), "clave": TEST_PASSWORD})
    assert r.status_code == 415 and r.is_json


def test_failed_logins_are_limited_per_account(portal_db):
    app = make_app(portal_db.colegio_url, portal_db.reportes_url, LOGIN_LIMIT_ACCOUNT="3 per 15 minutes",
                   LOGIN_LIMIT_CLIENT="100 per 15 minutes")
    c = app.test_client()
    for _ in range(3):
        assert login(c, TEACHER_ID, "mala").status_code == 401
    # Now even the right password is refused for this account...
    r = login(c, TEACHER_ID, TEST_PASSWORD)
    assert r.status_code == 429 and "Demasiados intentos" in r.get_data(as_text=True)
    r = c.post("/api/v1/sesion", json={"id": TEACHER_ID, "clave": TEST_PASSWORD})
    assert r.status_code == 429 and r.get_json()["error"] == "demasiados_intentos"
    # ...while another account from the same client still works.
    assert login(c, ADMIN_ID, TEST_PASSWORD).status_code == 302
    app.extensions["caoskol_store"].dispose()


def test_account_limit_counts_the_account_not_the_text_typed(portal_db):
    # "8", "08", " 0008" and the JSON number 8 all name account 8: one counter, whatever
    # the spelling, or leading zeros would give an attacker a fresh counter each time.
    app = make_app(portal_db.colegio_url, portal_db.reportes_url, LOGIN_LIMIT_ACCOUNT="3 per 15 minutes",
                   LOGIN_LIMIT_CLIENT="100 per 15 minutes")
    c = app.test_client()
    for spelling in (str(TEACHER_ID), "0" + str(TEACHER_ID), " 00" + str(TEACHER_ID) + " "):
        assert login(c, spelling, "mala").status_code == 401
    for spelling in (str(TEACHER_ID), "0000" + str(TEACHER_ID)):
        assert login(c, spelling, TEST_PASSWORD).status_code == 429, spelling
    r = c.post("/api/v1/sesion", json={"id": TEACHER_ID, "clave": TEST_PASSWORD})
    assert r.status_code == 429
    assert login(c, ADMIN_ID, TEST_PASSWORD).status_code == 302
    app.extensions["caoskol_store"].dispose()


def test_failed_logins_are_limited_per_client(portal_db):
    app = make_app(portal_db.colegio_url, portal_db.reportes_url, LOGIN_LIMIT_ACCOUNT="100 per 15 minutes",
                   LOGIN_LIMIT_CLIENT="4 per 15 minutes")
    c = app.test_client()
    for uid in (900001, 900002, 900003, 900004):  # a different (unknown) account each time
        assert login(c, uid, "x").status_code == 401
    assert login(c, TEACHER_ID, TEST_PASSWORD).status_code == 429
    # Another client address is not affected.
    other = app.test_client()
    token = other.get("/api/v1/sesion", environ_base={"REMOTE_ADDR": "10.9.9.9"}).get_json()["csrf_token"]
    r = other.post("/login", environ_base={"REMOTE_ADDR": "10.9.9.9"},
                   data={"id": str(TEACHER_ID), "clave": TEST_PASSWORD, "csrf_token": token})
    assert r.status_code == 302
    app.extensions["caoskol_store"].dispose()


def test_successful_logins_do_not_count(portal_db):
    app = make_app(portal_db.colegio_url, portal_db.reportes_url, LOGIN_LIMIT_ACCOUNT="2 per 15 minutes",
                   LOGIN_LIMIT_CLIENT="2 per 15 minutes")
    c = app.test_client()
    for _ in range(5):
        assert login(c, TEACHER_ID, TEST_PASSWORD).status_code == 302
    app.extensions["caoskol_store"].dispose()


def _hash(pw):
    from werkzeug.security import generate_password_hash

    return generate_password_hash(pw, method="pbkdf2:sha256:1000")


def test_must_change_password_at_first_login(app, portal_db):
    eng = db.engine(portal_db.colegio_url)
    with eng.begin() as conn:
        conn.execute(update(schema.usuarios).where(schema.usuarios.c.id == MUST_CHANGE_ID)
                     .values(clave_hash=_hash(TEST_PASSWORD), debe_cambiar_clave=True))
    c = app.test_client()
    r = login(c, MUST_CHANGE_ID, TEST_PASSWORD)
    assert r.status_code == 302 and r.location == "/cambiar-clave"
    # Every other page sends back to the change form; the API says so in JSON.
    assert c.get("/estudiante/").location == "/cambiar-clave"
    r = c.get(f"/api/v1/resultados/{MUST_CHANGE_ID}")
    assert r.status_code == 403 and r.get_json()["error"] == "debe_cambiar_clave"
    token = csrf_token(c)
    bad = c.post("/cambiar-clave", data={"actual": TEST_PASSWORD, "nueva": "1234", "confirmacion": "1234", "csrf_token": token})
    assert bad.status_code == 400
    weak = c.post("/cambiar-clave", data={"actual": TEST_PASSWORD, "nueva": "12345678", "confirmacion": "12345678", "csrf_token": token})
    assert weak.status_code == 400 and "fácil" in weak.get_data(as_text=True)
    old_cookie = session_cookie(c)
    ok = c.post("/cambiar-clave", data={"actual": TEST_PASSWORD, "nueva": "una clave nueva ñ", "confirmacion": "una clave nueva ñ",
                                        "csrf_token": token})
    assert ok.status_code == 302 and ok.location == "/estudiante/"
    assert c.get("/estudiante/").status_code == 200
    # The session before the change is over.
    replay = app.test_client()
    replay.set_cookie("caoskol_sesion", old_cookie)
    assert replay.get("/estudiante/").status_code == 302
    assert login(app.test_client(), MUST_CHANGE_ID, "una clave nueva ñ").location == "/estudiante/"
    with eng.begin() as conn:
        row = conn.execute(select(schema.usuarios.c.debe_cambiar_clave).where(schema.usuarios.c.id == MUST_CHANGE_ID)).scalar()
        assert row == 0 or row is False
        conn.execute(update(schema.usuarios).where(schema.usuarios.c.id == MUST_CHANGE_ID)
                     .values(clave_hash=_hash(TEST_PASSWORD), debe_cambiar_clave=True))
    eng.dispose()


def test_production_without_secret_key_refuses_to_start(monkeypatch):
    monkeypatch.setenv("CAOSKOL_ENV", "production")
    monkeypatch.delenv("CAOSKOL_SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="CAOSKOL_SECRET_KEY"):
        create_app()
    monkeypatch.setenv("CAOSKOL_SECRET_KEY", "short")
    with pytest.raises(ConfigError, match="too short"):
        create_app()
    monkeypatch.setenv("CAOSKOL_ENV", "staging")
    with pytest.raises(ConfigError, match="CAOSKOL_ENV"):
        create_app()


def test_gunicorn_style_factory_reads_the_environment(monkeypatch, portal_db):
    monkeypatch.setenv("CAOSKOL_ENV", "production")
    monkeypatch.setenv("CAOSKOL_SECRET_KEY", "k" * 40)
    monkeypatch.setenv("CAOSKOL_COLEGIO_URL", portal_db.colegio_url)
    monkeypatch.setenv("CAOSKOL_REPORTES_URL", portal_db.reportes_url)
    monkeypatch.setenv("CAOSKOL_AIRFLOW_URL", "http://airflow.example:8080/")
    app = create_app()
    assert app.config["AIRFLOW_URL"] == "http://airflow.example:8080"
    assert app.config["SECRET_KEY"] == "k" * 40
    assert app.test_client().get("/readyz").status_code == 200
    app.extensions["caoskol_store"].dispose()


def test_session_check_cache_forgets_at_once_in_this_process(portal_db):
    """With CAOSKOL_SESSION_CHECK_TTL > 0 the account row is reused for a while, but logout,
    disabling or a password reset made by this process still end the old cookie at once;
    a change made elsewhere (another worker) is seen within the TTL."""
    import time

    app = make_app(portal_db.colegio_url, portal_db.reportes_url, SESSION_CHECK_TTL=0.5)
    c = app.test_client()
    login_as(c, portal_db, "profesor")
    stolen = session_cookie(c)
    assert c.get("/profesor/").status_code == 200
    c.post("/logout", data={"csrf_token": csrf_token(c)})
    replay = app.test_client()
    replay.set_cookie("caoskol_sesion", stolen)
    assert replay.get("/profesor/").status_code == 302  # same process: immediately

    login_as(c, portal_db, "profesor")
    assert c.get("/profesor/").status_code == 200
    eng = db.engine(portal_db.colegio_url)
    with eng.begin() as conn:  # "another worker" ends the sessions behind this process's back
        conn.execute(update(schema.usuarios).where(schema.usuarios.c.id == TEACHER_ID)
                     .values(sesion_version=schema.usuarios.c.sesion_version + 1))
    eng.dispose()
    time.sleep(0.6)
    assert c.get("/profesor/").status_code == 302  # within the TTL
    app.extensions["caoskol_store"].dispose()


def test_failed_login_limits_are_shared_through_redis(portal_db):
    """Several gunicorn processes / replicas share the counters with a Redis storage
    (CAOSKOL_RATELIMIT_STORAGE_URI=redis://...): two app instances stand for two processes.
    Redis runs on 127.0.0.1:6379 on the project's machines (started before the session)."""
    import uuid

    import redis

    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis on 127.0.0.1:6379 is needed for this test: {exc}")
    prefix = f"caoskol_test_{uuid.uuid4().hex[:8]}"
    common = dict(RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379", RATELIMIT_KEY_PREFIX=prefix,
                  LOGIN_LIMIT_ACCOUNT="3 per 15 minutes", LOGIN_LIMIT_CLIENT="100 per 15 minutes")
    worker1 = make_app(portal_db.colegio_url, portal_db.reportes_url, **common)
    c1 = worker1.test_client()
    for _ in range(3):
        assert login(c1, TEACHER_ID, "mala").status_code == 401
    worker2 = make_app(portal_db.colegio_url, portal_db.reportes_url, **common)
    c2 = worker2.test_client()
    assert login(c2, TEACHER_ID, TEST_PASSWORD).status_code == 429  # counted by the other "process"
    r = redis.Redis(host="127.0.0.1", port=6379)
    keys = list(r.scan_iter(f"*{prefix}*"))
    assert keys  # the counters are in Redis, under this app's prefix only
    for key in keys:
        r.delete(key)
    for a in (worker1, worker2):
        a.extensions["caoskol_store"].dispose()


def test_every_rate_limited_view_is_post_only(app):
    """Flask-Limiter's app-wide check runs for writes only
    (extensions.check_limits_on_writes_only): an app-wide limit would silently skip reads,
    so there must be none; the failed-login limits are decorators on POST-only views."""
    from flask_limiter.util import get_qualified_name

    from caoskol_portal.extensions import limiter

    manager = limiter.limit_manager
    assert not manager.default_limits and not manager.application_limits and not limiter._meta_limits
    limited = set(limiter._marked_for_limiting)
    assert limited, "the login views should carry the failed-login limits"
    seen = set()
    for rule in app.url_map.iter_rules():
        name = get_qualified_name(app.view_functions[rule.endpoint])
        if name in limited:
            seen.add(name)
            assert rule.methods - {"HEAD", "OPTIONS"} == {"POST"}, (rule.rule, rule.methods)
    assert seen == limited


def test_failed_logins_are_still_limited_after_reads(app, portal_db):
    """Reads skip the limiter; the POST after them is still counted and refused."""
    c = app.test_client()
    for _ in range(3):
        assert c.get("/").status_code == 200
    statuses = []
    for _ in range(7):
        statuses.append(c.post("/api/v1/sesion", json={"id": "987654", "clave": "mala"}).status_code)
        c.get("/healthz")
    assert statuses[:5] == [401] * 5 and statuses[5:] == [429, 429], statuses


def test_login_counters_are_per_accounts_database():
    # Two portals on one Redis (two schools, or two checkouts) must not count each other's
    # failed logins; the replicas of one portal (one accounts database) must.
    from caoskol_portal.settings import from_env

    base = {"CAOSKOL_ENV": "development", "CAOSKOL_SECRET_KEY": "x" * 32}

    def prefix(url, **extra):
        return from_env({**base, "CAOSKOL_COLEGIO_URL": url, **extra})["RATELIMIT_KEY_PREFIX"]

    a = prefix("mysql+mysqldb://root@127.0.0.1:3306/colegio?charset=utf8mb4")
    assert a == prefix("mysql://portal:otra-clave@127.0.0.1:3306/colegio")  # same accounts, other driver/password
    assert a != prefix("mysql+mysqldb://root@127.0.0.1:3306/nc2_colegio?charset=utf8mb4")
    assert a != prefix("mysql+mysqldb://root@10.0.0.5:3306/colegio")
    assert prefix("mysql://h/colegio", CAOSKOL_RATELIMIT_PREFIX="fijo") == "fijo"


def test_passwords_that_are_easy_to_guess_are_refused():
    from caoskol_portal.forms import check_new_password

    for weak in (" " * 8, "aaaaaaaa", "72727272", "abababab", "abcabcab"):
        assert check_new_password(weak, 72) == "Esa clave es demasiado fácil de adivinar.", weak
    for fine in ("Tres tristes tigres", "río-Magdalena-27", "abcdabcd"):
        assert check_new_password(fine, 72) is None, fine
