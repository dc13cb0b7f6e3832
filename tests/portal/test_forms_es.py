"""Every form speaks Spanish: WTForms' own messages came out in English ("This field is
required.") because Flask-WTF's translations need Flask-Babel, which the portal does not use."""

from __future__ import annotations

import html
import inspect
import re

from flask_wtf import FlaskForm
from portal_helpers import csrf_token

from caoskol_portal import forms

ENGLISH = ("Not a valid", "Number must", "Field cannot", "Field must", "This field", "Invalid", "is required",
           "characters long", "longer than")


def errors_of(page: str) -> list[str]:
    import re

    return [html.unescape(e) for e in re.findall(r'<p class="error">(.*?)</p>', page)]


def assert_spanish(page: str, *expected: str) -> None:
    shown = errors_of(page)
    for message in expected:
        assert message in shown, (message, shown)
    for fragment in ENGLISH:
        assert fragment not in page, (fragment, shown)


def test_every_form_is_a_portal_form():
    """A new form that subclasses FlaskForm directly would speak English again."""
    found = [cls for _, cls in inspect.getmembers(forms, inspect.isclass)
             if issubclass(cls, FlaskForm) and cls.__module__ == forms.__name__]
    assert {c.__name__ for c in found} >= {"LoginForm", "ChangePasswordForm", "CreateUserForm", "ConfirmForm",
                                          "DeleteUserForm"}
    for cls in found:
        assert issubclass(cls, forms.Form), cls.__name__


def test_create_user_form_messages_are_spanish(clients):
    c = clients["administrador"]
    token = csrf_token(c)
    cases = [
        # (form data, messages the page must show)
        ({"id": "abc", "nombre": "Ana", "rol": "profesor"}, ["No es un valor entero válido."]),
        # int() takes these; an ID does not (login and API take ASCII digits only).
        ({"id": "٩٩٠١", "nombre": "Ana", "rol": "profesor"}, ["ID: solo dígitos 0-9."]),
        ({"id": "９９０２", "nombre": "Ana", "rol": "profesor"}, ["ID: solo dígitos 0-9."]),
        ({"id": "9_904", "nombre": "Ana", "rol": "profesor"}, ["ID: solo dígitos 0-9."]),
        ({"id": "0", "nombre": "Ana", "rol": "profesor"}, ["El número debe estar entre 1 y 2147483647."]),
        ({"id": "", "nombre": "x" * 151, "rol": "profesor"}, ["Nombre: texto de 1 a 150 caracteres."]),
        ({"id": "", "nombre": "Ana", "rol": "director"}, ["Opción inválida."]),
        ({"id": "", "nombre": "", "rol": "profesor"}, ["Este campo es obligatorio."]),
        ({"id": "", "nombre": "Ana", "rol": ""}, ["Este campo es obligatorio."]),
    ]
    for data, expected in cases:
        r = c.post("/admin/usuarios", data={**data, "grado": "", "csrf_token": token})
        assert r.status_code == 400, data
        assert_spanish(r.get_data(as_text=True), *expected)


def test_change_password_form_messages_are_spanish(clients):
    c = clients["profesor"]
    token = csrf_token(c)
    r = c.post("/cambiar-clave", data={"actual": "x", "nueva": "corta", "confirmacion": "corta", "csrf_token": token})
    assert r.status_code == 400
    assert_spanish(r.get_data(as_text=True), "El campo debe tener entre 8 y 200 caracteres.")
    r = c.post("/cambiar-clave", data={"actual": "", "nueva": "", "confirmacion": "", "csrf_token": token})
    assert r.status_code == 400
    page = r.get_data(as_text=True)
    assert errors_of(page).count("Este campo es obligatorio.") == 3
    assert_spanish(page)
    r = c.post("/cambiar-clave", data={"actual": "x", "nueva": "a" * 201, "confirmacion": "b", "csrf_token": token})
    assert_spanish(r.get_data(as_text=True), "El campo debe tener entre 8 y 200 caracteres.", "Las claves no coinciden.")


def test_forms_leave_validation_to_the_server(clients):
    # The browser's own checks (minlength, required) speak the browser's language and hide
    # the Spanish messages above: the forms with rules opt out of them.
    page = clients["administrador"].get("/cambiar-clave").get_data(as_text=True)
    assert re.search(r'<form[^>]*id="form-clave"[^>]*novalidate', page)
    page = clients["administrador"].get("/admin/usuarios").get_data(as_text=True)
    assert re.search(r'<form[^>]*id="form-crear-usuario"[^>]*novalidate', page)
