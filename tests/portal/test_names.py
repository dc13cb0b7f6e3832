"""Names: one rule (names.clean_name) for the admin form and the API.

NUL, tab, newline and U+202E (right-to-left override) used to be accepted and stored; the
API checked the length before stripping spaces.
"""

from __future__ import annotations

import pytest
from portal_helpers import csrf_token

from caoskol_portal.names import clean_name

IDS = range(71201, 71215)


@pytest.fixture()
def store(app):
    s = app.extensions["caoskol_store"]
    for uid in IDS:
        s.delete_user(uid)
    yield s
    for uid in IDS:
        s.delete_user(uid)


@pytest.mark.parametrize("raw,stored", [
    ("Muñoz", "Muñoz"),
    ("  Ñandú\t ", "Ñandú"),  # surrounding whitespace goes before any check
    ("Mun\u0303oz", "Mu\u00f1oz"),  # n + combining tilde -> ñ (NFC)
    ("O'Brien-Pérez", "O'Brien-Pérez"),
    ("Zoë 😀", "Zoë 😀"),
    ("Ana\u00a0María", "Ana\u00a0María"),  # a no-break space is a space
    ("  " + "x" * 150 + "  ", "x" * 150),  # 150 once stripped
])
def test_good_names(raw, stored):
    assert clean_name(raw) == (stored, None)


@pytest.mark.parametrize("raw,code", [
    ("Ana\x00", "U+0000"),
    ("Ana\tMaría", "U+0009"),
    ("Ana\nMaría", "U+000A"),
    ("Ana\u202eairaM", "U+202E"),  # right-to-left override
    ("Ana\u200bMaría", "U+200B"),  # zero-width space
    ("Ana\u2028María", "U+2028"),  # line separator
    ("Ana\ue000", "U+E000"),  # private use
    ("Ana\ud800", "U+D800"),  # lone surrogate (JSON can carry one)
    ("Ana\u0378", "U+0378"),  # unassigned
])
def test_invisible_and_control_characters_are_refused(raw, code):
    _name, problem = clean_name(raw)
    assert problem == f"nombre: no puede contener caracteres de control ni invisibles ({code}).", problem


@pytest.mark.parametrize("raw", ["", "   ", "x" * 151, None, 7, ["Ana"]])
def test_empty_long_or_not_text(raw):
    assert clean_name(raw)[1] == "nombre: texto de 1 a 150 caracteres."


def test_api_create_user_refuses_control_characters(admin_api, store):
    c, h = admin_api
    for uid, nombre in zip(IDS, ["Ana\x00", "Ana\tMaría", "Ana\nMaría", "Ana\u202eairaM"]):
        r = c.post("/api/v1/usuarios", json={"id": uid, "nombre": nombre, "rol": "profesor"}, headers=h)
        assert r.status_code == 400 and r.get_json()["error"] == "solicitud_invalida", repr(nombre)
        assert r.get_json()["mensaje"].startswith("nombre: no puede contener"), r.get_json()
        assert store.get_user(uid) is None
    # 153 characters as sent, 150 once NFC-normalized and stripped: accepted.
    r = c.post("/api/v1/usuarios", json={"id": IDS[5], "nombre": "  Mun\u0303oz  " + "x" * 143, "rol": "profesor"},
               headers=h)
    assert r.status_code == 201, r.get_json()
    assert store.get_user(IDS[5])["nombre"] == "Mu\u00f1oz  " + "x" * 143


def test_api_results_edit_uses_the_same_rule(admin_api, store):
    c, h = admin_api
    r = c.put(f"/api/v1/resultados/{IDS[6]}", json={"nombre": "Rosa\u202eziuR"}, headers=h)
    assert r.status_code == 400 and "U+202E" in r.get_json()["mensaje"], r.get_json()
    assert store.student(IDS[6]) is None


def test_admin_form_refuses_control_characters(clients, store):
    c = clients["administrador"]
    token = csrf_token(c)
    r = c.post("/admin/usuarios", data={"id": str(IDS[7]), "nombre": "Ana\u202eairaM", "rol": "profesor", "grado": "",
                                        "csrf_token": token})
    assert r.status_code == 400
    assert "Nombre: no puede contener caracteres de control ni invisibles (U+202E)." in r.get_data(as_text=True)
    assert store.get_user(IDS[7]) is None


@pytest.fixture()
def admin_api(app, portal_db):
    c = app.test_client()
    uid, pw = portal_db.accounts["administrador"]
    r = c.post("/api/v1/sesion", json={"id": uid, "clave": pw})
    assert r.status_code == 200
    return c, {"X-CSRFToken": r.get_json()["csrf_token"]}
