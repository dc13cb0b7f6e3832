"""What the portal writes into a student's results record (colegio.notas) passes the nightly
cleaning policy: every row the admin form, POST /api/v1/usuarios and PUT /api/v1/resultados
can leave behind is read back from MySQL the way the nightly extract reads it and given to
``caoskol.cleaning.apply_policy`` itself. Refused writes are 400 with a Spanish message that
names the field, and change nothing. A name change reaches the account and the record."""

from __future__ import annotations

import pandas as pd
import pytest
from portal_data import HASH_METHOD, TEST_PASSWORD
from portal_helpers import csrf_token, make_app
from sqlalchemy import delete, insert, text, update
from werkzeug.security import generate_password_hash

from caoskol import cleaning, db, extract, schema

NEW_ID = 73001  # created, edited and deleted by each test that uses it


def api_login(client, uid, pw):
    r = client.post("/api/v1/sesion", json={"id": uid, "clave": pw})
    assert r.status_code == 200, r.get_data(as_text=True)
    return {"X-CSRFToken": r.get_json()["csrf_token"]}


@pytest.fixture()
def admin_api(app, portal_db):
    c = app.test_client()
    return c, api_login(c, *portal_db.accounts["administrador"])


@pytest.fixture()
def colegio(portal_db):
    eng = db.engine(portal_db.colegio_url)
    yield eng
    eng.dispose()


@pytest.fixture()
def fresh_ids(app):
    """Ids a test may create; deleted before and after."""
    store = app.extensions["caoskol_store"]
    ids = [NEW_ID + i for i in range(10)]
    for i in ids:
        store.delete_user(i)
    yield ids
    for i in ids:
        store.delete_user(i)


def stored(colegio, sid: int) -> dict | None:
    """The row as the nightly extract reads it (the record and the account's role)."""
    with colegio.connect() as conn:
        row = conn.execute(text(extract.EXTRACT_SQL + " WHERE n.`id` = :id"), {"id": sid}).mappings().first()
    return dict(row) if row else None


def account_name(colegio, sid: int) -> str | None:
    with colegio.connect() as conn:
        return conn.execute(text("SELECT nombre FROM usuarios WHERE id = :id"), {"id": sid}).scalar()


def assert_policy_keeps(row: dict) -> None:
    clean, quarantine = cleaning.apply_policy(pd.DataFrame([row], columns=list(cleaning.RAW_COLUMNS)))
    assert quarantine.empty, quarantine["motivo"].tolist()
    assert len(clean) == 1


def new_student_row(sid, nombre, grado, programa):
    """What creating a student must store, worked out from docs/CLEANING_POLICY.md: awards 0
    (NULL awards are quarantined), scores NULL (kept: left out of that subject only)."""
    return {"id": sid, "nombre": nombre, "grado": grado, "premios": 0, "programa": programa,
            "matematicas": None, "ingles": None, "ciencias": None, "rol": "estudiante"}


# --- creating a student -------------------------------------------------------------------


def test_student_created_with_the_form_passes_the_policy(clients, colegio, fresh_ids):
    admin = clients["administrador"]
    sid = fresh_ids[0]
    r = admin.post("/admin/usuarios", data={"id": str(sid), "nombre": "Begoña Prueba", "rol": "estudiante",
                                            "grado": "8", "programa": "0", "csrf_token": csrf_token(admin)})
    assert r.status_code == 201, r.get_data(as_text=True)[:500]
    row = stored(colegio, sid)
    assert row == new_student_row(sid, "Begoña Prueba", 8, 0)
    assert_policy_keeps(row)


def test_student_created_through_the_api_passes_the_policy(admin_api, colegio, fresh_ids):
    c, h = admin_api
    sid = fresh_ids[0]
    r = c.post("/api/v1/usuarios", json={"id": sid, "nombre": "Íñigo Prueba", "rol": "estudiante", "grado": 12,
                                         "programa": 3}, headers=h)
    assert r.status_code == 201, r.get_json()
    row = stored(colegio, sid)
    assert row == new_student_row(sid, "Íñigo Prueba", 12, 3)
    assert_policy_keeps(row)


@pytest.mark.parametrize("extra", [{}, {"programa": None}, {"programa": 2}, {"programa": "1"}, {"programa": True},
                                   {"programa": 1.0}, {"programa": 1, "grado": None}])
def test_api_refuses_a_student_without_a_known_program(admin_api, app, fresh_ids, extra):
    c, h = admin_api
    sid = fresh_ids[0]
    body = {"id": sid, "nombre": "Sin Programa", "rol": "estudiante", "grado": 7, **extra}
    r = c.post("/api/v1/usuarios", json=body, headers=h)
    assert r.status_code == 400 and r.get_json()["error"] == "solicitud_invalida"
    field = "grado" if "grado" in extra else "programa"
    assert r.get_json()["mensaje"].startswith(f"{field}:")
    assert app.extensions["caoskol_store"].get_user(sid) is None


def test_api_refuses_a_program_for_staff(admin_api, app, fresh_ids):
    c, h = admin_api
    r = c.post("/api/v1/usuarios", json={"id": fresh_ids[0], "nombre": "Profe", "rol": "profesor", "programa": 1},
               headers=h)
    assert r.status_code == 400 and r.get_json()["mensaje"].startswith("programa:")
    assert app.extensions["caoskol_store"].get_user(fresh_ids[0]) is None


@pytest.mark.parametrize("data,message", [
    ({"rol": "estudiante", "grado": "8"}, "Un estudiante necesita un programa de estudio."),
    ({"rol": "estudiante", "grado": "8", "programa": "2"}, "Programa no válido."),
    ({"rol": "profesor", "programa": "1"}, "Solo un estudiante tiene programa de estudio."),
])
def test_form_refuses_a_student_without_a_known_program(clients, app, fresh_ids, data, message):
    admin = clients["administrador"]
    sid = fresh_ids[0]
    r = admin.post("/admin/usuarios", data={"id": str(sid), "nombre": "Sin Programa", **data,
                                            "csrf_token": csrf_token(admin)})
    assert r.status_code == 400 and message in r.get_data(as_text=True)
    assert app.extensions["caoskol_store"].get_user(sid) is None


# --- editing a record (PUT /api/v1/resultados/<id>) ---------------------------------------


@pytest.fixture()
def student(admin_api, colegio, fresh_ids):
    """A student created through the API: (id, the row stored)."""
    c, h = admin_api
    sid = fresh_ids[0]
    r = c.post("/api/v1/usuarios", json={"id": sid, "nombre": "Editable Prueba", "rol": "estudiante", "grado": 9,
                                         "programa": 1}, headers=h)
    assert r.status_code == 201
    return sid, new_student_row(sid, "Editable Prueba", 9, 1)


VALID_PUTS = [
    {"matematicas": 0, "ingles": 100, "ciencias": 55},  # the policy's range, both ends
    {"matematicas": 71, "ciencias": None},  # NULL science: kept by the policy
    {"grado": None},  # NULL grade: kept ("sin grado")
    {"grado": 6}, {"grado": 12},
    {"matematicas": None, "ingles": None},  # any NULL score is kept
    {"premios": 0}, {"premios": 7}, {"premios": 100},
    {"programa": 0}, {"programa": 3},
    {"nombre": "Ñandú 😀"},
    {"nombre": "Todo Junto", "grado": 11, "premios": 4, "programa": 0, "matematicas": 88, "ingles": 77, "ciencias": None},
    {},
]


@pytest.mark.parametrize("body", VALID_PUTS, ids=[",".join(b) or "vacio" for b in VALID_PUTS])
def test_every_accepted_put_leaves_a_record_the_policy_keeps(admin_api, colegio, student, body):
    c, h = admin_api
    sid, before = student
    r = c.put(f"/api/v1/resultados/{sid}", json=body, headers=h)
    assert r.status_code == 200, r.get_json()
    row = stored(colegio, sid)
    assert row == {**before, **body}
    assert_policy_keeps(row)
    assert "programa" not in r.get_json()["resultado"]


INVALID_PUTS = [
    ({"premios": None}, "premios"),  # "premios negativos o ausentes"
    ({"premios": -1}, "premios"),
    ({"premios": 101}, "premios"),
    ({"premios": True}, "premios"),
    ({"premios": "2"}, "premios"),
    ({"matematicas": 101}, "matematicas"),
    ({"ingles": -1}, "ingles"),
    ({"ciencias": 150}, "ciencias"),
    ({"ciencias": 70.5}, "ciencias"),
    ({"matematicas": "80"}, "matematicas"),
    ({"matematicas": 10**20}, "matematicas"),
    ({"grado": 5}, "grado"),
    ({"grado": 13}, "grado"),
    ({"grado": "9"}, "grado"),
    ({"programa": 2}, "programa"),
    ({"programa": None}, "programa"),
    ({"programa": "1"}, "programa"),
    ({"nombre": ""}, "nombre"),
    ({"nombre": None}, "nombre"),
    ({"nombre": "\u202eodanrefeD"}, "nombre"),  # a bidi override (names.clean_name)
    ({"nombre": "Válido", "premios": None}, "premios"),  # nothing written, not even the name
    ({"matematicas": 90, "clave": "x"}, "clave"),
]


@pytest.mark.parametrize("body,field", INVALID_PUTS, ids=[f"{f}-{i}" for i, (_, f) in enumerate(INVALID_PUTS)])
def test_every_refused_put_is_400_naming_the_field_and_changes_nothing(admin_api, colegio, student, body, field):
    c, h = admin_api
    sid, before = student
    r = c.put(f"/api/v1/resultados/{sid}", json=body, headers=h)
    assert r.status_code == 400, r.get_json()
    data = r.get_json()
    assert data["error"] == "solicitud_invalida" and field in data["mensaje"], data
    assert stored(colegio, sid) == before
    assert account_name(colegio, sid) == before["nombre"]


def test_put_judges_the_whole_record_as_stored(admin_api, app, colegio, fresh_ids):
    """A record already broken in a field the PUT does not touch (loaded from the school's
    files) is refused, with the policy's reasons, until the PUT fixes it."""
    c, h = admin_api
    sid = fresh_ids[1]
    app.extensions["caoskol_store"].create_user(sid, "Registro Roto", "estudiante", "x", grado=7, programa=1)
    with colegio.begin() as conn:
        conn.execute(update(schema.notas).where(schema.notas.c.id == sid)
                     .values(premios=None, ciencias=107, programa=2))
    r = c.put(f"/api/v1/resultados/{sid}", json={"matematicas": 50}, headers=h)
    assert r.status_code == 400
    mensaje = r.get_json()["mensaje"]
    for reason in ("ciencias=107", "premios negativos o ausentes", "programa desconocido"):
        assert reason in mensaje, mensaje
    assert stored(colegio, sid)["matematicas"] is None
    r = c.put(f"/api/v1/resultados/{sid}", json={"matematicas": 50, "ciencias": 97, "premios": 1, "programa": 3},
              headers=h)
    assert r.status_code == 200, r.get_json()
    row = stored(colegio, sid)
    assert row == {"id": sid, "nombre": "Registro Roto", "grado": 7, "premios": 1, "programa": 3,
                   "matematicas": 50, "ingles": None, "ciencias": 97, "rol": "estudiante"}
    assert_policy_keeps(row)


def test_put_refuses_a_teachers_row_in_notas(admin_api, app, colegio, fresh_ids):
    """The old system put staff into notas; the policy quarantines them whatever the scores."""
    c, h = admin_api
    sid = fresh_ids[2]
    app.extensions["caoskol_store"].create_user(sid, "Profe En Notas", "profesor", "x")
    with colegio.begin() as conn:
        conn.execute(insert(schema.notas).values(id=sid, nombre="Profe En Notas", premios=0))
    r = c.put(f"/api/v1/resultados/{sid}", json={"matematicas": 50}, headers=h)
    assert r.status_code == 400 and "rol profesor" in r.get_json()["mensaje"]


def test_put_creating_the_record_needs_a_program_and_starts_awards_at_0(admin_api, app, colegio, fresh_ids):
    c, h = admin_api
    sid = fresh_ids[3]
    app.extensions["caoskol_store"].create_user(sid, "Cuenta Sin Registro", "estudiante", "x", grado=8, programa=0)
    with colegio.begin() as conn:
        conn.execute(delete(schema.notas).where(schema.notas.c.id == sid))
    r = c.put(f"/api/v1/resultados/{sid}", json={"matematicas": 50}, headers=h)
    assert r.status_code == 400 and r.get_json()["mensaje"].startswith("programa:")
    assert stored(colegio, sid) is None
    r = c.put(f"/api/v1/resultados/{sid}", json={"matematicas": 50, "programa": 0}, headers=h)
    assert r.status_code == 201, r.get_json()
    row = stored(colegio, sid)
    assert row == {"id": sid, "nombre": "Cuenta Sin Registro", "grado": None, "premios": 0, "programa": 0,
                   "matematicas": 50, "ingles": None, "ciencias": None, "rol": "estudiante"}
    assert_policy_keeps(row)


# --- one name -----------------------------------------------------------------------------


def test_a_name_change_reaches_the_account_and_the_record_at_once(portal_db, colegio, fresh_ids):
    """With a session cache (TTL 60 s) the student's own header shows the new name on the
    next request: the store forgets the cached account row when it renames it."""
    app = make_app(portal_db.colegio_url, portal_db.reportes_url, SESSION_CHECK_TTL=60)
    try:
        store = app.extensions["caoskol_store"]
        sid = fresh_ids[4]
        store.create_user(sid, "Nombre Viejo", "estudiante", generate_password_hash(TEST_PASSWORD, method=HASH_METHOD),
                          grado=10, debe_cambiar=False, programa=3)
        student = app.test_client()
        api_login(student, sid, TEST_PASSWORD)
        assert student.get("/api/v1/sesion").get_json()["usuario"]["nombre"] == "Nombre Viejo"
        admin = app.test_client()
        h = api_login(admin, *portal_db.accounts["administrador"])

        r = admin.put(f"/api/v1/resultados/{sid}", json={"nombre": " N\u0303andu\u0301 😀 "}, headers=h)
        assert r.status_code == 200, r.get_json()
        new = "Ñandú 😀"  # NFC, stripped
        assert r.get_json()["resultado"]["nombre"] == new
        assert account_name(colegio, sid) == new and stored(colegio, sid)["nombre"] == new
        assert admin.get(f"/api/v1/usuarios/{sid}").get_json()["usuario"]["nombre"] == new
        assert student.get("/api/v1/sesion").get_json()["usuario"]["nombre"] == new
        assert student.get(f"/api/v1/resultados/{sid}").get_json()["resultado"]["nombre"] == new
        page = student.get("/estudiante/").get_data(as_text=True)
        assert "Nombre Viejo" not in page and page.count(new) >= 2  # header and results

        # A refused edit changes neither name.
        r = admin.put(f"/api/v1/resultados/{sid}", json={"nombre": "Otro Nombre", "matematicas": 101}, headers=h)
        assert r.status_code == 400
        assert account_name(colegio, sid) == new and stored(colegio, sid)["nombre"] == new
    finally:
        app.extensions["caoskol_store"].dispose()


def test_account_creation_refuses_what_it_would_drop(admin_api, app):
    # A teacher's grade, or a field creation does not take, used to vanish without a word.
    c, h = admin_api
    store = app.extensions["caoskol_store"]
    for body, field in (
        ({"id": 71301, "nombre": "Ana Profe", "rol": "profesor", "grado": 7}, "grado"),
        ({"id": 71302, "nombre": "Eva", "rol": "estudiante", "grado": 7, "programa": 1, "premios": 5}, "premios"),
        ({"id": 71303, "nombre": "Eva", "rol": "profesor", "clave": "x"}, "clave"),
    ):
        r = c.post("/api/v1/usuarios", json=body, headers=h)
        assert r.status_code == 400 and r.get_json()["mensaje"].startswith((f"{field}:", "campo no permitido")), r.get_json()
        assert field in r.get_json()["mensaje"]
        assert store.get_user(body["id"]) is None
