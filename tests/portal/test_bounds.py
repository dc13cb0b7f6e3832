"""Integers from a query string or a path never reach SQL out of range (no 5xx).

?pagina=99999999999999999999 used to give a 500 (MariaDB 1064 on ``LIMIT
9999999999999999999800, 100``). Page numbers and sizes are bounded (views.page_arg: a page
past the end is an empty page), and every ``<int:...>`` in a route is 1 to 10 ASCII digits
within 1..2**31-1 (views.IdConverter), else a 404.
"""

from __future__ import annotations

import pytest
from portal_data import STUDENT_ID
from portal_helpers import csrf_token

HUGE = "99999999999999999999"
BAD_NUMBERS = [HUGE, "9" * 5000, "-1", "-99999999999999999999", "0", "٣", "³", "１", "abc", "", "1e3", "2.5"]
MAX_PAGE_NUMBER = 1_000_000  # views.MAX_PAGE_NUMBER

# (url, query parameters that are numbers, roles that may reach it)
LISTS = [
    ("/profesor/estudiantes", ("pagina", "por_pagina", "grado"), ("profesor", "administrador")),
    ("/profesor/estudiantes.csv", ("grado",), ("profesor", "administrador")),
    ("/profesor/", ("grado",), ("profesor", "administrador")),
    ("/admin/usuarios", ("pagina",), ("administrador",)),
    ("/admin/cuarentena", ("pagina",), ("administrador",)),
    ("/api/v1/resultados", ("pagina", "por_pagina", "grado"), ("profesor", "administrador")),
    ("/api/v1/cuarentena", ("pagina", "por_pagina"), ("administrador",)),
    ("/api/v1/usuarios", ("pagina", "por_pagina"), ("administrador",)),
    ("/api/v1/reporte/tablero", ("grado",), ("profesor", "administrador")),
]
# Routes with an integer in the path, reached with GET, and the roles that may call them.
ID_PATHS = [
    ("/api/v1/usuarios/{}", ("administrador",)),
    ("/api/v1/resultados/{}", ("estudiante", "profesor", "administrador")),
    ("/api/v1/resultados/grado/{}", ("profesor", "administrador")),
    ("/admin/usuarios/{}/eliminar", ("administrador",)),
]
# State-changing ones: only values that name no account under any parsing (Werkzeug's own
# converter read "٣" as 3, so a non-ASCII digit could have reset or deleted account 3).
WRITE_PATHS = [
    ("POST", "/admin/usuarios/{}/clave"),
    ("POST", "/admin/usuarios/{}/desactivar"),
    ("POST", "/admin/usuarios/{}/activar"),
    ("POST", "/admin/usuarios/{}/eliminar"),
    ("DELETE", "/api/v1/usuarios/{}"),
    ("PUT", "/api/v1/resultados/{}"),
]
SAFE_WRITE_VALUES = [HUGE, "9" * 5000, "-1", "0", "abc", "2147483648"]


def test_numbers_in_query_strings_never_give_5xx(clients):
    for url, params, roles in LISTS:
        for role in roles:
            for name in params:
                for value in BAD_NUMBERS:
                    r = clients[role].get(url, query_string={name: value})
                    assert r.status_code < 500, (role, url, name, value[:30], r.status_code)
                    assert r.status_code == 200, (role, url, name, value[:30], r.status_code)


def test_numbers_in_paths_never_give_5xx(clients):
    for pattern, roles in ID_PATHS:
        for role in roles:
            for value in BAD_NUMBERS + ["2147483648", "00000000001"]:
                if not value:
                    continue
                r = clients[role].get(pattern.format(value))
                assert r.status_code == 404, (role, pattern, value[:30], r.status_code)
    admin = clients["administrador"]
    token = csrf_token(admin)
    for method, pattern in WRITE_PATHS:
        for value in SAFE_WRITE_VALUES:
            kwargs = {"json": {}} if pattern.startswith("/api/") else {"data": {"csrf_token": token}}
            r = admin.open(pattern.format(value), method=method, headers={"X-CSRFToken": token}, **kwargs)
            # 405 when the path's other method's rule is the one left (Werkzeug checks the
            # method before the converter): never a view run with that value.
            assert r.status_code in (404, 405), (method, pattern, value[:30], r.status_code)


def test_a_page_past_the_end_is_empty_and_bounded(clients):
    c = clients["administrador"]
    for url, key in (("/api/v1/resultados", "resultados"), ("/api/v1/usuarios", "usuarios"),
                     ("/api/v1/cuarentena", "filas")):
        body = c.get(url, query_string={"pagina": HUGE}).get_json()
        assert body["pagina"] == MAX_PAGE_NUMBER and body[key] == [], url
        assert body["total"] > 0, url  # the total still counts everything
        # Not a page number: the first page; a page size is bounded to 1..500.
        for value in ("0", "-1", "abc", "٣", "³"):
            assert c.get(url, query_string={"pagina": value}).get_json()["pagina"] == 1, (url, value)
        assert c.get(url, query_string={"por_pagina": HUGE}).get_json()["por_pagina"] == 500
        assert c.get(url, query_string={"por_pagina": "0"}).get_json()["por_pagina"] == 1
        assert c.get(url, query_string={"por_pagina": "0007"}).get_json()["por_pagina"] == 7
    html = c.get("/admin/usuarios", query_string={"pagina": HUGE}).get_data(as_text=True)
    assert f"Página {MAX_PAGE_NUMBER} de" in html and 'data-id="' not in html
    html = c.get("/profesor/estudiantes", query_string={"pagina": HUGE}).get_data(as_text=True)
    assert f"página {MAX_PAGE_NUMBER} de" in html and "<td>" not in html


def test_a_non_ascii_digit_names_no_account(clients, portal_db):
    """Werkzeug's converter read "٣" (Arabic-Indic three) as 3: the same record under
    another URL. Only ASCII digits name an id."""
    c = clients["profesor"]
    assert c.get(f"/api/v1/resultados/{STUDENT_ID}").status_code == 200
    arabic = str(STUDENT_ID).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    assert c.get(f"/api/v1/resultados/{arabic}").status_code == 404


@pytest.mark.parametrize("value,expected", [("7", 7), ("0007", 7), ("1", 1), ("999999", 999999)])
def test_ordinary_page_numbers_still_work(clients, value, expected):
    body = clients["profesor"].get("/api/v1/resultados", query_string={"pagina": value, "por_pagina": "10"}).get_json()
    assert body["pagina"] == expected and body["por_pagina"] == 10
