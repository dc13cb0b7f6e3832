"""Authorization on every route: each (route, method) x (anonymous + each role).

The table below must name every rule the app registers (a new route fails the first test
until its access is decided here). Allowed calls must not answer 401/403 (nor 500);
refused ones answer 403 for a logged-in role, and for anonymous a redirect to the login
page (pages) or 401 (API). Every state-changing call carries a valid CSRF token, so what is
measured is authorization, not CSRF.
"""

from __future__ import annotations

import itertools

import pytest
from portal_data import OTHER_STUDENT_ID, STUDENT_ID
from portal_helpers import ROLES, csrf_token, login_as

PUBLIC = "publico"
ALL = frozenset(ROLES)
STAFF = frozenset({"profesor", "administrador"})
ADMIN = frozenset({"administrador"})
STUDENT = frozenset({"estudiante"})

EXPECTED: dict[tuple[str, str], object] = {
    ("static", "GET"): PUBLIC,
    ("health.healthz", "GET"): PUBLIC,
    ("health.readyz", "GET"): PUBLIC,
    ("auth.landing", "GET"): PUBLIC,
    ("auth.login_page", "GET"): PUBLIC,
    ("auth.login", "POST"): PUBLIC,
    ("auth.logout", "POST"): ALL,
    ("auth.cambiar_clave", "GET"): ALL,
    ("auth.cambiar_clave", "POST"): ALL,
    ("estudiante.inicio", "GET"): STUDENT,
    ("profesor.inicio", "GET"): STAFF,
    ("profesor.estudiantes", "GET"): STAFF,
    ("profesor.estudiantes_csv", "GET"): STAFF,
    ("admin.inicio", "GET"): ADMIN,
    ("admin.usuarios", "GET"): ADMIN,
    ("admin.crear_usuario", "POST"): ADMIN,
    ("admin.restablecer_clave", "POST"): ADMIN,
    ("admin.desactivar", "POST"): ADMIN,
    ("admin.activar", "POST"): ADMIN,
    ("admin.confirmar_eliminar", "GET"): ADMIN,
    ("admin.eliminar", "POST"): ADMIN,
    ("admin.ejecuciones", "GET"): ADMIN,
    ("admin.ejecucion", "GET"): ADMIN,
    ("admin.data_docs", "GET"): ADMIN,
    ("admin.cuarentena", "GET"): ADMIN,
    ("api.sesion", "GET"): PUBLIC,
    ("api.iniciar_sesion", "POST"): PUBLIC,
    ("api.cerrar_sesion", "DELETE"): ALL,
    ("api.cambiar_clave", "POST"): ALL,
    ("api.usuarios", "GET"): ADMIN,
    ("api.crear_usuario", "POST"): ADMIN,
    ("api.usuario", "GET"): ADMIN,
    ("api.eliminar_usuario", "DELETE"): ADMIN,
    ("api.resultados", "GET"): STAFF,
    ("api.resultados_grado", "GET"): STAFF,
    ("api.resultado", "GET"): ALL,  # a student: only their own (see test below)
    ("api.guardar_resultado", "PUT"): ADMIN,
    ("api.reporte", "GET"): STAFF,
    ("api.tablero", "GET"): STAFF,
    ("api.tendencia", "GET"): STAFF,
    ("api.programas", "GET"): ADMIN,
    ("api.ejecuciones", "GET"): ADMIN,
    ("api.ejecucion", "GET"): ADMIN,
    ("api.cuarentena", "GET"): ADMIN,
}

_counter = itertools.count(1)
_created: list[int] = []


@pytest.fixture(autouse=True, scope="module")
def _drop_throwaway_users(portal_db):
    yield
    from caoskol_portal.queries import Store

    store = Store.from_urls(portal_db.colegio_url, portal_db.reportes_url)
    for uid in _created:
        store.delete_user(uid)
    with store.colegio.begin() as conn:  # accounts the allowed create calls made
        from sqlalchemy import delete

        from caoskol import schema

        conn.execute(delete(schema.usuarios).where(schema.usuarios.c.nombre.like("Creado Por Matriz%")))
    store.dispose()


def app_rules(app):
    out = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append((rule, method))
    return out


def test_every_route_has_a_decision(app):
    registered = {(r.endpoint, m) for r, m in app_rules(app)}
    assert registered == set(EXPECTED), (
        f"routes without a decision: {sorted(registered - set(EXPECTED))}; "
        f"stale entries: {sorted(set(EXPECTED) - registered)}"
    )


def test_every_view_declares_its_access(app):
    for endpoint, view in app.view_functions.items():
        if endpoint == "static":
            continue
        assert getattr(view, "_acceso", None) is not None, endpoint


def throwaway_user(app, rol="estudiante") -> int:
    store = app.extensions["caoskol_store"]
    uid = 80000 + next(_counter) * 10 + ROLES.index(rol)
    store.delete_user(uid)
    store.create_user(uid, f"Usuario Matriz {uid}", rol, "pbkdf2:sha256:1000$x$y", grado=7 if rol == "estudiante" else None)
    _created.append(uid)
    return uid


def build_request(app, portal_db, rule, method, role):
    """(url, kwargs) for one call; targets of destructive calls are throwaway accounts."""
    values = {}
    for arg in rule.arguments:
        if arg == "uid":
            values[arg] = throwaway_user(app)
        elif arg == "sid":
            values[arg] = STUDENT_ID if role == "estudiante" else OTHER_STUDENT_ID
            if rule.endpoint == "api.guardar_resultado":
                values[arg] = throwaway_user(app)
        elif arg == "grado":
            values[arg] = 7
        elif arg == "run_id":
            values[arg] = portal_db.current_run
        elif arg == "archivo":
            values[arg] = "index.html"
        elif arg == "filename":
            values[arg] = "css/portal.css"
        else:
            raise AssertionError(f"no sample value for <{arg}> in {rule.rule}")
    url = rule.build(values, append_unknown=False)[1]
    teacher_id, teacher_pw = portal_db.accounts["profesor"]
    kwargs: dict = {}
    endpoint = rule.endpoint
    if endpoint == "auth.login":
        kwargs["data"] = {"id": str(teacher_id), "clave": teacher_pw}
    elif endpoint == "auth.cambiar_clave" and method == "POST":
        kwargs["data"] = {"actual": "no-es-la-clave", "nueva": "otra-clave-larga", "confirmacion": "otra-clave-larga"}
    elif endpoint == "admin.crear_usuario":
        kwargs["data"] = {"nombre": "Creado Por Matriz", "rol": "profesor", "grado": ""}
    elif endpoint == "admin.eliminar":
        kwargs["data"] = {"confirmar": str(values["uid"]), "objetivo": str(values["uid"])}
    elif endpoint == "api.iniciar_sesion":
        kwargs["json"] = {"id": teacher_id, "clave": teacher_pw}
    elif endpoint == "api.cambiar_clave":
        kwargs["json"] = {"actual": "no-es-la-clave", "nueva": "otra-clave-larga"}
    elif endpoint == "api.crear_usuario":
        kwargs["json"] = {"nombre": "Creado Por Matriz API", "rol": "profesor"}
    elif endpoint == "api.guardar_resultado":
        kwargs["json"] = {"matematicas": 50}
    elif method in ("POST", "PUT", "DELETE"):
        kwargs["data"] = {}
    return url, kwargs


CASES = [(e, m, role) for (e, m) in EXPECTED for role in ("anonimo",) + ROLES]


@pytest.mark.parametrize("endpoint,method,role", CASES, ids=[f"{e}-{m}-{r}" for e, m, r in CASES])
def test_route_role(app, portal_db, endpoint, method, role):
    rule = next(r for r, m in app_rules(app) if r.endpoint == endpoint and m == method)
    client = app.test_client()
    if role != "anonimo":
        login_as(client, portal_db, role)
    url, kwargs = build_request(app, portal_db, rule, method, role)
    if method in ("POST", "PUT", "DELETE"):
        token = csrf_token(client)
        if "data" in kwargs:
            kwargs["data"] = {**kwargs["data"], "csrf_token": token}
        kwargs["headers"] = {"X-CSRFToken": token}
    resp = client.open(url, method=method, **kwargs)
    allowed = EXPECTED[(endpoint, method)]
    ok = allowed == PUBLIC or (role != "anonimo" and role in allowed)
    if ok:
        assert resp.status_code not in (401, 403, 405, 500), (url, resp.status_code, resp.get_data(as_text=True)[:300])
        if resp.status_code == 302 and not endpoint.startswith("auth."):
            assert resp.location not in ("/", "http://localhost/"), (url, "sent to the login page")
    elif role == "anonimo":
        if url.startswith("/api/"):
            assert resp.status_code == 401, (url, resp.status_code)
            assert resp.is_json and resp.get_json()["error"] == "no_autenticado"
        else:
            assert resp.status_code == 302 and resp.location in ("/", "http://localhost/"), (url, resp.status_code)
    else:
        assert resp.status_code == 403, (url, role, resp.status_code)


def test_student_cannot_read_another_students_record(clients):
    own = clients["estudiante"].get(f"/api/v1/resultados/{STUDENT_ID}")
    assert own.status_code == 200 and own.get_json()["resultado"]["id"] == STUDENT_ID
    other = clients["estudiante"].get(f"/api/v1/resultados/{OTHER_STUDENT_ID}")
    assert other.status_code in (403, 404)
    assert "resultado" not in other.get_json()


def test_student_page_shows_only_their_own_row(clients, portal_db, app):
    html = clients["estudiante"].get("/estudiante/").get_data(as_text=True)
    store = app.extensions["caoskol_store"]
    other = store.student(OTHER_STUDENT_ID)
    assert store.student(STUDENT_ID)["nombre"] in html
    assert other["nombre"] not in html
    # The page takes no id: a query parameter cannot select someone else.
    html2 = clients["estudiante"].get(f"/estudiante/?id={OTHER_STUDENT_ID}").get_data(as_text=True)
    assert other["nombre"] not in html2


def test_unknown_routes_are_404_json_under_api(clients):
    r = clients["profesor"].get("/api/v1/no-existe")
    assert r.status_code == 404 and r.is_json and r.get_json()["error"] == "no_encontrado"
    r = clients["profesor"].get("/no-existe")
    assert r.status_code == 404 and "text/html" in r.content_type
