"""The study program of a student appears in no page and no API response, for any role.

Each role logs in and crawls: every link reachable from its dashboard, plus every GET route
the app registers (parameters filled with real ids). Every answer is checked:

* JSON: no key named ``programa`` anywhere, except inside the administrator's aggregates by
  program (``agregados_por_programa``, groups of 10 or more, never per student).
* HTML/CSV: the word "programa" and the program names appear only inside the
  administrator's aggregates section; no per-student table has a program column.
* Per student: for every student shown with an id on a page, the row's cells are exactly
  the public columns.
* The admin's create-user form may list the programs to choose from (``#campo-programa``),
  with none chosen: it never pre-fills one.

The program is write-only: the admin sets it when creating a student and through
``PUT /api/v1/resultados/<id>``. ``test_program_write_paths_never_echo_it`` checks those
answers and then every page that shows the student written.
"""

from __future__ import annotations

import json
import re
from collections import deque
from urllib.parse import urljoin, urlparse

import pytest
from portal_data import OTHER_STUDENT_ID, STUDENT_ID
from portal_helpers import ROLES, csrf_token

from caoskol import schema

PROGRAM_WORDS = re.compile(r"program|académico|academico|vocacional|\bgeneral\b", re.I)
AGGREGATES_SECTION = re.compile(r'<section class="tarjeta" id="agregados-programa">.*?</section>', re.S)
# The admin's data-quality results name the checks on the programa column (column-level
# metadata, e.g. "programa_conocido"); they may say the word but carry no row values.
VALIDATION_SECTION = re.compile(r'<section class="tarjeta" id="validacion">.*?</section>', re.S)
# The create-user form's program choice (write-only): the list of programs, none selected.
PROGRAM_CHOICE = re.compile(r'<div class="campo-confidencial" id="campo-programa">.*?</div>', re.S)
SAFE_EXPECTATION_KEYS = {"type", "column", "critical", "success", "observed", "unexpected_count",
                         "unexpected_percent", "error"}


def check_validation_detail(detail, url):
    """Per-expectation summaries only; for the programa column, no list of values."""
    for suite in (detail or {}).values():
        for key, exp in (suite.get("expectations") or {}).items() if isinstance(suite, dict) else ():
            assert set(exp) <= SAFE_EXPECTATION_KEYS, (url, key, set(exp) - SAFE_EXPECTATION_KEYS)
            if exp.get("column") == "programa":
                assert not isinstance(exp.get("observed"), (list, dict)), (url, key)


def json_keys_with_program(obj, path=""):
    found = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in ("agregados_por_programa", "validacion_detalle"):
                continue  # the admin's aggregates and data-quality summaries: checked separately
            if "programa" in k.lower():
                found.append(f"{path}.{k}")
            found += json_keys_with_program(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            found += json_keys_with_program(v, f"{path}[{i}]")
    return found


def check_response(role, url, resp):
    ctype = resp.content_type or ""
    body = resp.get_data(as_text=True)
    problems = []
    if "json" in ctype:
        data = json.loads(body)
        problems += [f"{url}: JSON key {k}" for k in json_keys_with_program(data)]
        if "agregados_por_programa" in body:
            assert role == "administrador", url
            for g in data["agregados_por_programa"]:
                for v in g["variables"]:
                    assert v["n"] >= 10
        def without_admin_parts(obj):
            if isinstance(obj, dict):
                if "validacion_detalle" in obj:
                    assert role == "administrador", url
                    check_validation_detail(obj["validacion_detalle"], url)
                return {k: without_admin_parts(v) for k, v in obj.items()
                        if k not in ("agregados_por_programa", "validacion_detalle")}
            if isinstance(obj, list):
                return [without_admin_parts(v) for v in obj]
            return obj

        text = json.dumps(without_admin_parts(data), ensure_ascii=False)
        if PROGRAM_WORDS.search(text):
            problems.append(f"{url}: program word in JSON: {PROGRAM_WORDS.search(text).group(0)}")
    elif "text/html" in ctype or "text/csv" in ctype:
        stripped = body
        if role == "administrador":
            for choice in PROGRAM_CHOICE.findall(body):
                chosen = re.findall(r'<option[^>]*\bselected\b[^>]*>', choice)
                if any('value=""' not in opt for opt in chosen):
                    problems.append(f"{url}: the program choice is pre-filled: {chosen}")
            stripped = PROGRAM_CHOICE.sub("", VALIDATION_SECTION.sub("", AGGREGATES_SECTION.sub("", body)))
        # Script/link URLs and CSS classes are not content; program words in them would still count.
        m = PROGRAM_WORDS.search(stripped)
        if m:
            start = max(0, m.start() - 80)
            problems.append(f"{url}: '{m.group(0)}' in …{stripped[start:m.end() + 80]}…")
        if "text/csv" in ctype:
            header = body.lstrip("\ufeff").splitlines()[0].split(",")
            assert header == list(schema.PUBLIC_STUDENT_COLUMNS) + ["en_revision", "motivo_revision"], url
        for row in re.findall(r"<tr[^>]*>((?:<td data-columna=\"\w+\">.*?</td>)+)</tr>", body):
            cols = re.findall(r'data-columna="(\w+)"', row)
            assert cols == list(schema.PUBLIC_STUDENT_COLUMNS) + ["en_revision"], (url, cols)
    return problems


def get_urls_from_routes(app, portal_db, role):
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        values = {}
        for arg in rule.arguments:
            values[arg] = {
                "uid": STUDENT_ID, "sid": STUDENT_ID if role == "estudiante" else OTHER_STUDENT_ID, "grado": 7,
                "run_id": portal_db.current_run, "archivo": "index.html",
            }[arg]
        urls.append(rule.build(values, append_unknown=False)[1])
    # Variants of the same pages a user reaches through filters and exports.
    urls += ["/profesor/?grado=6", "/profesor/estudiantes?grado=sin", "/profesor/estudiantes.csv?grado=8",
             "/api/v1/reporte/tablero?grado=6", "/admin/usuarios?rol=estudiante", f"/api/v1/usuarios/{STUDENT_ID}",
             f"/admin/cuarentena?run_id={portal_db.current_run}", "/api/v1/resultados?por_pagina=500"]
    return urls


def crawl(c, role, start: list[str], limit: int = 400) -> tuple[int, list[str]]:
    """GET ``start`` and every link reachable from them; (pages fetched, problems)."""
    seen: set[str] = set()
    queue = deque(start)
    problems: list[str] = []
    fetched = 0
    while queue and fetched < limit:
        url = queue.popleft()
        if url in seen:
            continue
        seen.add(url)
        resp = c.get(url)
        fetched += 1
        if resp.status_code in (301, 302, 303):
            queue.append(urlparse(resp.location).path or "/")
            continue
        if resp.status_code != 200:
            continue
        problems += check_response(role, url, resp)
        if "text/html" in (resp.content_type or ""):
            for href in re.findall(r'href="([^"]+)"', resp.get_data(as_text=True)):
                href = href.replace("&amp;", "&")
                target = urlparse(urljoin("http://localhost" + url, href))
                if target.netloc not in ("localhost", "") or target.path.startswith("/static/"):
                    continue
                if "/eliminar" in target.path:
                    continue  # the confirmation page: fetched once through the route list
                queue.append(target.path + (f"?{target.query}" if target.query else ""))
    return fetched, problems


@pytest.mark.parametrize("role", ("anonimo",) + ROLES)
def test_no_program_value_anywhere(role, clients, app, portal_db):
    fetched, problems = crawl(clients[role], role, get_urls_from_routes(app, portal_db, role) + ["/"])
    assert fetched > (3 if role == "anonimo" else 10)
    assert not problems, "\n".join(problems[:20])


WRITTEN_IDS = (73101, 73102)  # students this module creates (and deletes)


def test_program_write_paths_never_echo_it(clients, app, portal_db):
    """Every way to write a program answers without it (the value sent is never repeated,
    not even in a refusal), and afterwards no page about those students shows it."""
    admin = clients["administrador"]
    store = app.extensions["caoskol_store"]
    form_id, api_id = WRITTEN_IDS
    for uid in WRITTEN_IDS:
        store.delete_user(uid)
    problems: list[str] = []
    h = {"X-CSRFToken": csrf_token(admin)}
    try:
        # The form: the choice is shown, empty, and stays empty when the form comes back refused.
        page = admin.get("/admin/usuarios")
        assert len(PROGRAM_CHOICE.findall(page.get_data(as_text=True))) == 1
        problems += check_response("administrador", "/admin/usuarios", page)
        refused = admin.post("/admin/usuarios", data={"id": str(form_id), "nombre": "", "rol": "estudiante",
                                                      "grado": "8", "programa": "1", "csrf_token": h["X-CSRFToken"]})
        assert refused.status_code == 400
        problems += check_response("administrador", "POST /admin/usuarios (400)", refused)
        created = admin.post("/admin/usuarios", data={"id": str(form_id), "nombre": "Escrito Por Formulario",
                                                      "rol": "estudiante", "grado": "8", "programa": "1",
                                                      "csrf_token": h["X-CSRFToken"]})
        assert created.status_code == 201
        problems += check_response("administrador", "POST /admin/usuarios (201)", created)
        # The API: create, change, and refusals.
        r = admin.post("/api/v1/usuarios", json={"id": api_id, "nombre": "Escrito Por API", "rol": "estudiante",
                                                 "grado": 8, "programa": 3}, headers=h)
        assert r.status_code == 201
        problems += check_response("administrador", "POST /api/v1/usuarios (201)", r)
        for body in ({"programa": 0}, {"programa": 1, "matematicas": 60}, {"programa": 3, "nombre": "Nombre Cambiado"}):
            r = admin.put(f"/api/v1/resultados/{api_id}", json=body, headers=h)
            assert r.status_code == 200, r.get_json()
            problems += check_response("administrador", f"PUT {body}", r)
        r = admin.put(f"/api/v1/resultados/{api_id}", json={"programa": 1, "matematicas": 150}, headers=h)
        assert r.status_code == 400 and "matematicas" in r.get_json()["mensaje"]
        problems += check_response("administrador", "PUT (400, another field)", r)
        # Refusals about the program itself name the field, never the value sent.
        for url, method, body in ((f"/api/v1/resultados/{api_id}", "PUT", {"programa": 77}),
                                  ("/api/v1/usuarios", "POST", {"nombre": "X", "rol": "estudiante", "grado": 8,
                                                                "programa": 77})):
            r = admin.open(url, method=method, json=body, headers=h)
            data = r.get_json()
            assert r.status_code == 400 and set(data) == {"error", "mensaje", "estado"}, data
            assert data["mensaje"].startswith("programa:") and "77" not in data["mensaje"], data
        # Then every page that shows these students, for the staff who can see them.
        for role in ("profesor", "administrador"):
            start = [f"/api/v1/resultados/{sid}" for sid in WRITTEN_IDS] + [
                "/profesor/estudiantes?grado=8", "/profesor/estudiantes.csv?grado=8",
                "/api/v1/resultados/grado/8", "/api/v1/resultados?grado=8&por_pagina=500"]
            if role == "administrador":
                start += [f"/api/v1/usuarios/{sid}" for sid in WRITTEN_IDS] + [
                    f"/admin/usuarios?buscar={sid}" for sid in WRITTEN_IDS] + [
                    f"/admin/usuarios/{sid}/eliminar" for sid in WRITTEN_IDS]
            fetched, found = crawl(clients[role], role, start, limit=60)
            assert fetched >= len(start)
            problems += found
    finally:
        for uid in WRITTEN_IDS:
            store.delete_user(uid)
    assert not problems, "\n".join(problems[:20])


def test_crawler_would_catch_a_leak(app, portal_db):
    """The checker itself: a page that printed a program would fail."""
    from flask import Response

    leaky_html = Response('<table><tr><td data-columna="id">1</td><td data-columna="programa">Vocacional</td></tr></table>',
                          mimetype="text/html")
    with pytest.raises(AssertionError):
        check_response("profesor", "/x", leaky_html)
    leaky_json = Response(json.dumps({"resultado": {"id": 1, "programa": 1}}), mimetype="application/json")
    assert check_response("profesor", "/y", leaky_json)
    program_word = Response("<p>Programa: Académico</p>", mimetype="text/html")
    assert check_response("administrador", "/z", program_word)
    prefilled = Response('<div class="campo-confidencial" id="campo-programa"><select id="programa" name="programa">'
                         '<option value="">—</option><option selected value="1">Vocacional</option></select></div>',
                         mimetype="text/html")
    assert check_response("administrador", "/w", prefilled)
    empty_choice = Response(prefilled.get_data(as_text=True).replace("selected ", ""), mimetype="text/html")
    assert check_response("administrador", "/v", empty_choice) == []
