"""Administrator pages: user management, pipeline health, quarantine, Data Docs, Airflow link."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from portal_data import ADMIN_ID, TEACHER_ID, TEST_PASSWORD
from portal_helpers import csrf_token, login, visible_text
from sqlalchemy import delete, insert

from caoskol import db, schema


def post(client, url, data=None):
    return client.post(url, data={**(data or {}), "csrf_token": csrf_token(client)})


def temp_password(html):
    return re.search(r'<code id="clave-temporal">([^<]+)</code>', html).group(1)


def test_create_student_via_form_then_first_login(clients, app):
    admin = clients["administrador"]
    store = app.extensions["caoskol_store"]
    store.delete_user(72001)
    r = post(admin, "/admin/usuarios", {"id": "72001", "nombre": "Begoña Ibáñez", "rol": "estudiante", "grado": "10",
                                        "programa": "3"})
    assert r.status_code == 201
    html = r.get_data(as_text=True)
    assert "Begoña Ibáñez" in html
    plain = temp_password(html)
    assert store.student(72001)["grado"] == 10
    s = app.test_client()
    r = login(s, 72001, plain)
    assert r.location == "/cambiar-clave"
    r = post(s, "/cambiar-clave", {"actual": plain, "nueva": "mi clave segura", "confirmacion": "mi clave segura"})
    assert r.location == "/estudiante/"
    page = s.get("/estudiante/").get_data(as_text=True)
    assert "Begoña Ibáñez" in page and page.count("sin dato") >= 3  # no scores yet
    store.delete_user(72001)


def test_create_validation_and_duplicates(clients):
    admin = clients["administrador"]
    r = post(admin, "/admin/usuarios", {"nombre": "Sin Grado", "rol": "estudiante", "grado": ""})
    assert r.status_code == 400 and "Un estudiante necesita un grado" in r.get_data(as_text=True)
    r = post(admin, "/admin/usuarios", {"id": str(TEACHER_ID), "nombre": "Duplicado", "rol": "profesor"})
    assert r.status_code == 303
    assert "ya existe" in admin.get("/admin/usuarios").get_data(as_text=True)


def test_reset_password_disable_enable(clients, app):
    admin = clients["administrador"]
    store = app.extensions["caoskol_store"]
    store.delete_user(72002)
    store.create_user(72002, "Profe Temporal", "profesor", "pbkdf2:sha256:1000$a$b", debe_cambiar=False)
    r = post(admin, "/admin/usuarios/72002/clave")
    assert r.status_code == 200
    plain = temp_password(r.get_data(as_text=True))
    teacher = app.test_client()
    assert login(teacher, 72002, plain).location == "/cambiar-clave"
    post(teacher, "/cambiar-clave", {"actual": plain, "nueva": "profe-nueva-1", "confirmacion": "profe-nueva-1"})
    assert teacher.get("/profesor/").status_code == 200
    # Disabling ends the open session at once and blocks login.
    r = post(admin, "/admin/usuarios/72002/desactivar")
    assert r.status_code == 302
    assert teacher.get("/profesor/").status_code == 302
    assert login(app.test_client(), 72002, "profe-nueva-1").status_code == 401
    assert store.get_user(72002)["activo"] in (0, False)
    post(admin, "/admin/usuarios/72002/activar")
    assert login(app.test_client(), 72002, "profe-nueva-1").status_code == 302
    assert post(admin, "/admin/usuarios/999999/clave").status_code == 404
    store.delete_user(72002)


def test_admin_cannot_disable_or_delete_self(clients, app):
    admin = clients["administrador"]
    post(admin, f"/admin/usuarios/{ADMIN_ID}/desactivar")
    assert app.extensions["caoskol_store"].get_user(ADMIN_ID)["activo"]
    post(admin, f"/admin/usuarios/{ADMIN_ID}/eliminar", {"confirmar": str(ADMIN_ID)})
    assert app.extensions["caoskol_store"].get_user(ADMIN_ID) is not None
    assert admin.get("/admin/").status_code == 200


def test_delete_needs_confirmation(clients, app):
    admin = clients["administrador"]
    store = app.extensions["caoskol_store"]
    store.delete_user(72003)
    store.create_user(72003, "Estudiante Borrable", "estudiante", "x", grado=6)
    page = admin.get("/admin/usuarios/72003/eliminar").get_data(as_text=True)
    assert "¿Eliminar a Estudiante Borrable?" in page and "registro de resultados" in page
    r = post(admin, "/admin/usuarios/72003/eliminar", {"confirmar": "72004"})  # wrong id typed
    assert r.status_code == 400 and store.get_user(72003) is not None
    r = post(admin, "/admin/usuarios/72003/eliminar", {"confirmar": "72003"})
    assert r.status_code == 302
    assert store.get_user(72003) is None and store.student(72003) is None
    assert admin.get("/admin/usuarios/72003/eliminar").status_code == 404


def test_user_list_search_and_filter(clients):
    admin = clients["administrador"]
    html = admin.get("/admin/usuarios?rol=profesor").get_data(as_text=True)
    ids = re.findall(r'<tr data-id="(\d+)">', html)
    assert str(TEACHER_ID) in ids and all(int(i) not in range(1, 401) for i in ids)
    html = admin.get("/admin/usuarios?buscar=Muñoz").get_data(as_text=True)
    assert "Mario Muñoz" in html
    html = admin.get("/admin/usuarios?buscar=%25").get_data(as_text=True)  # a literal %, not a wildcard
    assert re.findall(r'<tr data-id="(\d+)">', html) == []


def test_pipeline_health_pages(clients, portal_db, app):
    admin = clients["administrador"]
    html = admin.get("/admin/ejecuciones").get_data(as_text=True)
    assert portal_db.current_run in html
    if portal_db.failed_run:
        assert portal_db.failed_run in html and "fallida" in html
    assert 'href="http://127.0.0.1:8080/dags/caoskol_nightly"' in html
    page = admin.get(f"/admin/ejecuciones/{portal_db.current_run}").get_data(as_text=True)
    text = visible_text(page)
    assert "exitosa" in text and "Filas leídas" in text
    assert f"/dags/caoskol_nightly/runs/{portal_db.current_run}" in page
    if portal_db.failed_run:
        failed = admin.get(f"/admin/ejecuciones/{portal_db.failed_run}").get_data(as_text=True)
        assert "fallida" in failed and 'class="error-ejecucion"' in failed
    assert admin.get("/admin/ejecuciones/no-existe").status_code == 404


def test_quarantine_page_lists_rows_with_reasons(clients, portal_db):
    eng = db.engine(portal_db.reportes_url)
    from sqlalchemy import func, select

    with eng.connect() as conn:
        rows = conn.execute(select(schema.cuarentena.c.motivo, func.count()).where(
            schema.cuarentena.c.run_id == portal_db.current_run).group_by(schema.cuarentena.c.motivo)).all()
    eng.dispose()
    html = clients["administrador"].get("/admin/cuarentena").get_data(as_text=True)
    total = sum(n for _m, n in rows)
    assert f"{total} filas" in html
    for motivo, _n in rows:
        assert motivo in html


def test_quarantine_never_shows_a_program_even_if_published(fresh_databases, _portal_env):
    """Defence in depth: a producer that wrote `programa` into `datos` is not echoed."""
    import portal_data
    from portal_helpers import make_app

    colegio, reportes = fresh_databases.new("cuar")
    portal_data._add_test_accounts(colegio)
    portal_data.publish_handmade(reportes, "r1", datetime(2025, 6, 1, 2), {}, cuarentena=[
        {"id_origen": "5", "motivo": "grado fuera de rango", "datos": {"id": 5, "grado": 15, "programa": 3}}])
    app = make_app(colegio, reportes)
    c = app.test_client()
    login(c, portal_data.ADMIN_ID, TEST_PASSWORD)
    html = c.get("/admin/cuarentena").get_data(as_text=True)
    assert "grado fuera de rango" in html and "programa" not in html
    body = c.get("/api/v1/cuarentena").get_json()
    assert "programa" not in body["filas"][0]["datos"]
    app.extensions["caoskol_store"].dispose()


def test_data_docs_link_is_served_sandboxed_from_the_run_folder(clients, portal_db, tmp_path, monkeypatch):
    monkeypatch.setenv("CAOSKOL_DATA_DIR", str(tmp_path))
    docs = tmp_path / "runs" / "docs_run" / "validation" / "docs"
    (docs / "validations").mkdir(parents=True)
    (docs / "index.html").write_text("<html><body><h1>Data Docs de prueba</h1>"
                                     "<a href='validations/v1.html'>v1</a></body></html>", encoding="utf-8")
    (docs / "validations" / "v1.html").write_text("<p>expectativa ok</p>", encoding="utf-8")
    (tmp_path / "secreto.txt").write_text("no", encoding="utf-8")
    eng = db.engine(portal_db.reportes_url)
    with eng.begin() as conn:
        conn.execute(delete(schema.ejecuciones).where(schema.ejecuciones.c.run_id.in_(["docs_run", "docs_evil"])))
        conn.execute(insert(schema.ejecuciones), [
            {"run_id": "docs_run", "fecha_logica": datetime(2020, 1, 1), "estado": "exitosa", "data_docs": str(docs / "index.html")},
            {"run_id": "docs_evil", "fecha_logica": datetime(2020, 1, 2), "estado": "exitosa", "data_docs": "/etc/passwd"},
        ])
    try:
        admin = clients["administrador"]
        page = admin.get("/admin/ejecuciones/docs_run").get_data(as_text=True)
        assert 'id="enlace-data-docs"' in page and "/admin/ejecuciones/docs_run/data-docs/" in page
        r = admin.get("/admin/ejecuciones/docs_run/data-docs/")
        assert r.status_code == 200 and "Data Docs de prueba" in r.get_data(as_text=True)
        assert r.headers["Content-Security-Policy"].startswith("sandbox")
        assert admin.get("/admin/ejecuciones/docs_run/data-docs/validations/v1.html").status_code == 200
        assert admin.get("/admin/ejecuciones/docs_run/data-docs/../../../../secreto.txt").status_code == 404
        assert admin.get("/admin/ejecuciones/docs_run/data-docs/%2e%2e/%2e%2e/%2e%2e/%2e%2e/secreto.txt").status_code == 404
        # A path outside the pipeline's data folder is never served.
        assert admin.get("/admin/ejecuciones/docs_evil/data-docs/").status_code == 404
        assert clients["profesor"].get("/admin/ejecuciones/docs_run/data-docs/").status_code == 403
    finally:
        with eng.begin() as conn:
            conn.execute(delete(schema.ejecuciones).where(schema.ejecuciones.c.run_id.in_(["docs_run", "docs_evil"])))
        eng.dispose()


def test_admin_sees_everything_a_teacher_sees(clients):
    admin = clients["administrador"]
    for url in ("/profesor/", "/profesor/estudiantes", "/profesor/estudiantes.csv", "/api/v1/reporte"):
        assert admin.get(url).status_code == 200
    nav = admin.get("/admin/").get_data(as_text=True)
    for link in ("/profesor/", "/profesor/estudiantes", "/admin/usuarios", "/admin/ejecuciones", "/admin/cuarentena"):
        assert f'href="{link}"' in nav


def test_validation_detail_never_carries_program_values():
    from caoskol_portal.admin import sanitize_validation

    detail = {"cruda": {"success": False, "expectations": {
        "programa_conocido": {"type": "expect_column_values_to_be_in_set", "column": "programa", "success": False,
                              "observed": [0, 1, 3, 7], "unexpected_count": 1, "partial_unexpected_list": [7],
                              "partial_unexpected_index_list": [{"id": 12, "programa": 7}]},
        "matematicas_rango": {"type": "expect_column_values_to_be_between", "column": "matematicas", "success": True,
                              "observed": None, "unexpected_count": 0},
    }}}
    clean = sanitize_validation(detail)
    exp = clean["cruda"]["expectations"]["programa_conocido"]
    assert exp == {"type": "expect_column_values_to_be_in_set", "column": "programa", "success": False,
                   "observed": None, "unexpected_count": 1}
    assert clean["cruda"]["expectations"]["matematicas_rango"]["unexpected_count"] == 0
    assert sanitize_validation(None) is None


def test_run_page_shows_validation_results(clients, portal_db):
    page = clients["administrador"].get(f"/admin/ejecuciones/{portal_db.current_run}").get_data(as_text=True)
    assert 'id="validacion"' in page


def _validated_run(run_dir):
    """A small snapshot validated for real (both suites): GX writes the Data Docs."""
    import pandas as pd

    from caoskol import validation

    n = 12
    clean = pd.DataFrame({
        "id": pd.array(range(1, n + 1), dtype="Int64"),
        "nombre": pd.array([f"Estudiante {i} Muñoz" for i in range(n)], dtype="string"),
        "grado": pd.array([6 + i % 7 for i in range(n)], dtype="Int64"),
        "premios": pd.array([i % 3 for i in range(n)], dtype="Int64"),
        "programa": pd.array([sorted(schema.PROGRAMS)[i % len(schema.PROGRAMS)] for i in range(n)], dtype="Int64"),
        **{m: pd.array([40 + (i * (k + 3)) % 60 for i in range(n)], dtype="Int64") for k, m in enumerate(schema.SUBJECTS)},
    })
    raw = clean.assign(rol=pd.array(["estudiante"] * n, dtype="string"))
    for kind, df in (("raw", raw), ("clean", clean)):
        (run_dir / kind).mkdir(parents=True)
        df.to_parquet(run_dir / kind / "part-00000.parquet", index=False)
    validation.validate_raw(run_dir)
    summary = validation.validate_clean(run_dir)
    return summary["docs_index"]


def test_pipeline_page_links_each_validation_result_page(clients, portal_db, tmp_path, monkeypatch):
    """GX's index lists its pages with JavaScript, which offline Data Docs do not load: the
    admin page links the raw and clean suites' result pages themselves, and they hold rows."""
    monkeypatch.setenv("CAOSKOL_DATA_DIR", str(tmp_path))
    docs_index = _validated_run(tmp_path / "runs" / "vd_run")
    eng = db.engine(portal_db.reportes_url)
    with eng.begin() as conn:
        conn.execute(delete(schema.ejecuciones).where(schema.ejecuciones.c.run_id == "vd_run"))
        conn.execute(insert(schema.ejecuciones).values(
            run_id="vd_run", fecha_logica=datetime(2020, 1, 3), estado="exitosa", data_docs=docs_index))
    try:
        admin = clients["administrador"]
        html = admin.get("/admin/ejecuciones/vd_run").get_data(as_text=True)
        links = dict(re.findall(r'<a href="(/admin/ejecuciones/vd_run/data-docs/validations/[^"]+)" data-suite="[^"]+">([^<]+)</a>', html))
        by_label = {label: url for url, label in links.items()}
        assert set(by_label) == {"Resultados de validación: datos crudos", "Resultados de validación: datos limpios"}
        for label, suite in (("datos crudos", "caoskol_raw"), ("datos limpios", "caoskol_clean")):
            url = by_label[f"Resultados de validación: {label}"]
            assert f"/validations/{suite}/" in url
            r = admin.get(url)
            assert r.status_code == 200 and r.headers["Content-Security-Policy"].startswith("sandbox")
            page = r.get_data(as_text=True)
            # The result page itself (not the JS-driven index): it names the suite and has one
            # table row per expectation, rendered without JavaScript.
            text = re.sub(r"\s+", " ", visible_text(page))
            assert "Expectation Validation Result" in text and f"Expectation Suite: {suite}" in text
            assert "Evaluated Expectations" in text and "values must never be null" in text
            assert page.count("<tr") >= 10  # the expectation rows, in the HTML itself
        # The runs table links them too.
        table = admin.get("/admin/ejecuciones").get_data(as_text=True)
        assert all(url in table for url in links)
    finally:
        with eng.begin() as conn:
            conn.execute(delete(schema.ejecuciones).where(schema.ejecuciones.c.run_id == "vd_run"))
        eng.dispose()
