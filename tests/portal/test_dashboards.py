"""What each role sees, checked against the published reporting tables (never hard-coded)."""

from __future__ import annotations

import csv
import io
import re

import pytest
from portal_data import NO_GRADE_STUDENT_ID, NO_SCIENCE_STUDENT_ID, STUDENT_ID, TEST_PASSWORD
from portal_helpers import login, visible_text
from sqlalchemy import func, select

from caoskol import db, schema


def fmt(v, digits=1):
    return "sin dato" if v is None else f"{v:.{digits}f}".replace(".", ",")


@pytest.fixture(scope="module")
def published(portal_db):
    """The current run's tables, read straight from caoskol_reportes."""
    eng = db.engine(portal_db.reportes_url)
    run = portal_db.current_run
    out = {}
    with eng.connect() as conn:
        for t in (schema.estadisticas, schema.distribucion_premios, schema.correlaciones, schema.estudiantes_por_grado,
                  schema.histogramas, schema.agregados_programa):
            out[t.name] = [dict(r) for r in conn.execute(select(t).where(t.c.run_id == run)).mappings()]
        out["fecha"] = conn.execute(select(schema.ejecuciones.c.fecha_logica)
                                    .where(schema.ejecuciones.c.run_id == run)).scalar()
    eng.dispose()
    return out


def stat(published, ambito, grado, variable):
    return next(r for r in published["estadisticas"]
                if r["ambito"] == ambito and r["grado"] == grado and r["variable"] == variable)


def colegio_count(portal_db, where=None):
    eng = db.engine(portal_db.colegio_url)
    stmt = select(func.count()).select_from(schema.notas)
    if where is not None:
        stmt = stmt.where(where)
    with eng.connect() as conn:
        n = conn.execute(stmt).scalar()
    eng.dispose()
    return n


# --- student -------------------------------------------------------------------------------


def student_rows(html):
    """{materia: (puntaje, media_grado, percentil)} from the student's table."""
    out = {}
    for m in re.finditer(r'<tr data-materia="(\w+)">(.*?)</tr>', html, re.S):
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", m.group(2), re.S)]
        out[m.group(1)] = cells[1:]
    return out


def expected_percentile(published, grado, materia, score):
    hist = [r for r in published["histogramas"] if r["ambito"] == "grado" and r["grado"] == grado and r["materia"] == materia]
    total = sum(r["n"] for r in hist)
    below = sum(r["n"] for r in hist if r["puntaje"] < score)
    equal = sum(r["n"] for r in hist if r["puntaje"] == score)
    return 100.0 * (below + 0.5 * equal) / total


def test_student_sees_own_scores_grade_average_and_percentile(clients, app, published):
    html = clients["estudiante"].get("/estudiante/").get_data(as_text=True)
    me = app.extensions["caoskol_store"].student(STUDENT_ID)
    assert me["nombre"] == "Mario Muñoz"  # UTF-8 end to end
    assert "Mario Muñoz" in html
    rows = student_rows(html)
    for m in schema.SUBJECTS:
        puntaje, media, percentil = rows[m]
        assert puntaje == str(me[m])
        assert media == fmt(stat(published, "grado", me["grado"], m)["media"])
        assert percentil == fmt(expected_percentile(published, me["grado"], m, me[m]), 0)
    assert rows["premios"][1] == fmt(stat(published, "grado", me["grado"], "premios")["media"])


def test_student_api_matches_the_page(clients, published, app):
    body = clients["estudiante"].get(f"/api/v1/resultados/{STUDENT_ID}").get_json()
    me = app.extensions["caoskol_store"].student(STUDENT_ID)
    assert body["resultado"] == me
    for item in body["comparacion"]["grado"]:
        m = item["materia"]
        assert item["media_grado"] == pytest.approx(stat(published, "grado", me["grado"], m)["media"])
        assert item["percentil"] == pytest.approx(expected_percentile(published, me["grado"], m, me[m]), abs=0.05)


@pytest.mark.parametrize("sid,missing", [(NO_SCIENCE_STUDENT_ID, "ciencias"), (NO_GRADE_STUDENT_ID, "grado")])
def test_missing_values_show_sin_dato_not_zero(app, portal_db, sid, missing):
    c = app.test_client()
    assert login(c, sid, TEST_PASSWORD).status_code == 302
    html = c.get("/estudiante/").get_data(as_text=True)
    rows = student_rows(html)
    if missing == "ciencias":
        assert rows["ciencias"][0] == "sin dato"
        assert rows["ciencias"][2] == "sin dato"  # no percentile without a score
        assert rows["matematicas"][0] != "sin dato"
    else:
        assert re.search(r'<dd id="grado">\s*sin dato\s*</dd>', html)
        for m in schema.SUBJECTS:  # no grade: nothing to compare against
            assert rows[m][1] == "sin dato" and rows[m][2] == "sin dato"
            assert rows[m][0] != "0"


# --- report state banner ---------------------------------------------------------------------


@pytest.mark.parametrize("role,page", [("estudiante", "/estudiante/"), ("profesor", "/profesor/"),
                                       ("profesor", "/profesor/estudiantes"), ("administrador", "/admin/")])
def test_every_dashboard_says_which_run_and_that_a_newer_one_failed(clients, published, portal_db, role, page):
    html = clients[role].get(page).get_data(as_text=True)
    months = ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre",
              "octubre", "noviembre", "diciembre"]
    f = published["fecha"]
    assert f"Datos del {f.day} de {months[f.month - 1]} de {f.year}" in html
    assert portal_db.current_run in html
    if portal_db.failed_run:
        assert 'id="alerta-fallida"' in html and "falló" in html


# --- teacher dashboard ---------------------------------------------------------------------


def dashboard_json(html):
    import json

    m = re.search(r'<script type="application/json" id="datos-tablero">(.*?)</script>', html, re.S)
    return json.loads(m.group(1))


def test_teacher_dashboard_shows_the_published_numbers(clients, published):
    html = clients["profesor"].get("/profesor/").get_data(as_text=True)
    data = dashboard_json(html)
    for p in data["promedios"]:
        s = stat(published, "escuela", None, p["materia"])
        assert p["media"] == pytest.approx(s["media"]) and p["n"] == s["n"]
        assert f'<tr data-materia="{p["materia"]}">' in html
    dist = [r for r in published["distribucion_premios"] if r["ambito"] == "escuela"]
    assert data["premios"]["sin"] == sum(r["n"] for r in dist if r["premios"] == 0)
    assert data["premios"]["con"] == sum(r["n"] for r in dist if r["premios"] > 0)
    per_grade = {r["grado"]: r["n"] for r in published["estudiantes_por_grado"]}
    assert {r["grado"]: r["n"] for r in data["estudiantes_por_grado"]} == per_grade
    for serie in data["medias_por_grado"]["series"]:
        for g, media in zip(data["medias_por_grado"]["grados"], serie["medias"]):
            assert media == pytest.approx(stat(published, "grado", g, serie["materia"])["media"])
    for c in data["correlaciones"]:
        row = next(r for r in published["correlaciones"] if r["ambito"] == "escuela"
                   and {r["variable_x"], r["variable_y"]} == {"premios", c["materia"]})
        assert c["n"] == row["n"]
        assert (c["r"] is None) == (row["r"] is None)
        if row["r"] is not None:
            assert c["r"] == pytest.approx(row["r"])
    # Chart.js comes from this server, never from a CDN.
    assert '/static/vendor/chart.umd.min.js' in html or "Los gráficos no están disponibles" in html
    assert "cdn" not in html.lower() and "https://" not in html


def test_grade_filter(clients, published):
    html = clients["profesor"].get("/profesor/?grado=7").get_data(as_text=True)
    data = dashboard_json(html)
    assert data["grado"] == 7 and data["ambito"] == "grado"
    for p in data["promedios"]:
        assert p["media"] == pytest.approx(stat(published, "grado", 7, p["materia"])["media"])
    dist = [r for r in published["distribucion_premios"] if r["ambito"] == "grado" and r["grado"] == 7]
    assert data["premios"]["con"] + data["premios"]["sin"] == sum(r["n"] for r in dist)
    # An invalid grade is ignored (school-wide view), not an error.
    assert dashboard_json(clients["profesor"].get("/profesor/?grado=99").get_data(as_text=True))["grado"] is None
    assert dashboard_json(clients["profesor"].get("/profesor/?grado=x%27").get_data(as_text=True))["grado"] is None


def test_trend_across_runs_is_shown_when_there_are_several(clients, portal_db):
    html = clients["profesor"].get("/profesor/").get_data(as_text=True)
    if portal_db.previous_run:
        assert 'id="grafico-tendencia"' in html
        trend = clients["profesor"].get("/api/v1/reporte/tendencia").get_json()["tendencia"]
        ids = [e["run_id"] for e in trend["ejecuciones"]]
        assert ids[-2:] == [portal_db.previous_run, portal_db.current_run]
        assert portal_db.failed_run not in ids  # failed runs publish nothing


def test_correlation_undefined_shows_no_definido(fresh_databases, seed_dir, _portal_env):
    """A grade where nobody has awards: r is NULL in the report and 'no definido' on screen."""
    import portal_data
    from portal_helpers import make_app

    colegio, reportes = fresh_databases.new("corr")
    portal_data._load_colegio_directly(colegio, seed_dir)
    portal_data._add_test_accounts(colegio)
    report = portal_data.compute_report(portal_data._colegio_frame(colegio))
    for r in report["correlaciones"]:
        if r["ambito"] == "grado" and r["grado"] == 8 and "premios" in (r["variable_x"], r["variable_y"]):
            r["r"] = None
    from datetime import datetime

    portal_data.publish_handmade(reportes, "solo", datetime(2025, 5, 1, 2), report)
    app = make_app(colegio, reportes)
    c = app.test_client()
    login(c, portal_data.TEACHER_ID, TEST_PASSWORD)
    html = c.get("/profesor/?grado=8").get_data(as_text=True)
    table = re.search(r'<table class="tabla compacta" id="tabla-correlaciones">(.*?)</table>', html, re.S).group(1)
    assert table.count("no definido") == 3
    assert "n=" not in table and re.search(r'<td class="n">\d+</td>', table)
    # No failed run here: no warning, and a single run draws no trend.
    assert 'id="alerta-fallida"' not in html and 'id="grafico-tendencia"' not in html
    app.extensions["caoskol_store"].dispose()


def test_no_report_published_yet(fresh_databases, _portal_env):
    import portal_data
    from portal_helpers import make_app

    colegio, reportes = fresh_databases.new("vacio")
    portal_data._add_test_accounts(colegio)
    from sqlalchemy import insert

    eng = db.engine(colegio)
    with eng.begin() as conn:
        conn.execute(insert(schema.usuarios).values(id=401, nombre="Prof", rol="profesor", debe_cambiar_clave=False,
                                                    clave_hash=portal_data.generate_password_hash(TEST_PASSWORD, method="pbkdf2:sha256:1000")))
    eng.dispose()
    app = make_app(colegio, reportes)
    for uid, page in ((401, "/profesor/"), (STUDENT_ID if False else portal_data.NO_SCIENCE_STUDENT_ID, "/estudiante/"),
                      (portal_data.ADMIN_ID, "/admin/")):
        c = app.test_client()
        assert login(c, uid, TEST_PASSWORD).status_code == 302
        r = c.get(page)
        assert r.status_code == 200
        assert "Aún no hay un reporte publicado" in r.get_data(as_text=True)
    c = app.test_client()
    login(c, 401, TEST_PASSWORD)
    r = c.get("/api/v1/reporte")
    assert r.status_code == 404 and r.get_json()["error"] == "sin_reporte"
    app.extensions["caoskol_store"].dispose()


# --- students table ------------------------------------------------------------------------


def table_ids(html):
    return [int(x) for x in re.findall(r'<td data-columna="id">(\d+)</td>', html)]


def test_students_table_pages_and_sorts(clients, portal_db):
    c = clients["profesor"]
    total = colegio_count(portal_db)
    html = c.get("/profesor/estudiantes?por_pagina=25").get_data(as_text=True)
    assert f"{total} estudiantes" in html
    first = table_ids(html)
    assert len(first) == 25 and first == sorted(first)
    second = table_ids(c.get("/profesor/estudiantes?por_pagina=25&pagina=2").get_data(as_text=True))
    assert len(second) == 25 and not set(first) & set(second) and min(second) > max(first)
    # Sorting by maths descending, ties by id.
    html = c.get("/profesor/estudiantes?orden=matematicas&dir=desc&por_pagina=100").get_data(as_text=True)
    maths = [int(x) for x in re.findall(r'<td data-columna="matematicas">(\d+)</td>', html)]
    assert maths == sorted(maths, reverse=True) and len(maths) == 100
    assert 'aria-sort="descending"' in html
    # Unknown sort keys fall back to id (no SQL built from the parameter).
    html = c.get("/profesor/estudiantes?orden=programa&dir=desc").get_data(as_text=True)
    assert table_ids(html) == sorted(table_ids(html), reverse=True)
    html = c.get("/profesor/estudiantes?orden=id;DROP TABLE notas").get_data(as_text=True)
    assert colegio_count(portal_db) == total


def test_students_table_grade_filter_and_no_grade(clients, portal_db):
    c = clients["profesor"]
    html = c.get("/profesor/estudiantes?grado=7&por_pagina=100").get_data(as_text=True)
    grades = set(re.findall(r'<td data-columna="grado">([^<]*)</td>', html))
    assert grades == {"7"}
    assert f"{colegio_count(portal_db, schema.notas.c.grado == 7)} estudiantes" in html
    html = c.get("/profesor/estudiantes?grado=sin").get_data(as_text=True)
    assert table_ids(html) == [NO_GRADE_STUDENT_ID]
    assert '<td data-columna="grado">sin dato</td>' in html


def test_csv_export(clients, portal_db):
    r = clients["profesor"].get("/profesor/estudiantes.csv")
    assert r.status_code == 200
    assert r.mimetype == "text/csv" and "charset=utf-8" in r.content_type
    assert "attachment" in r.headers["Content-Disposition"]
    text = r.get_data().decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0].keys()) == list(schema.PUBLIC_STUDENT_COLUMNS) + ["en_revision", "motivo_revision"]
    assert len(rows) == colegio_count(portal_db)
    by_id = {int(r["id"]): r for r in rows}
    assert by_id[STUDENT_ID]["nombre"] == "Mario Muñoz"
    assert by_id[NO_SCIENCE_STUDENT_ID]["ciencias"] == ""  # empty, not 0
    r7 = list(csv.DictReader(io.StringIO(clients["administrador"].get("/profesor/estudiantes.csv?grado=7")
                                         .get_data().decode("utf-8-sig"))))
    assert {r["grado"] for r in r7} == {"7"}


def test_csv_cells_cannot_become_formulas():
    from caoskol_portal.profesor import csv_safe

    assert csv_safe("=HYPERLINK(\"x\")") == "'=HYPERLINK(\"x\")"
    assert csv_safe("+1") == "'+1" and csv_safe("Muñoz") == "Muñoz" and csv_safe(None) == "" and csv_safe(7) == 7


def test_numbers_that_round_to_zero_show_no_minus_sign(app):
    from decimal import Decimal

    from caoskol_portal.views import fmt_num, fmt_r

    assert fmt_r(-0.004) == "0,00" and fmt_r(-0.0) == "0,00" and fmt_r(0.004) == "0,00"
    assert fmt_r(-0.005001) == "-0,01" and fmt_r(-0.35) == "-0,35" and fmt_r(0.456) == "0,46" and fmt_r(None) == "no definido"
    assert fmt_num(-0.04) == "0,0" and fmt_num(Decimal("-0.004"), 2) == "0,00" and fmt_num(-1.25, 1) == "-1,2"
    # As the dashboard's correlation table renders it.
    assert app.jinja_env.from_string("{{ v|r }}").render(v=-0.004) == "0,00"


# --- administrator -------------------------------------------------------------------------


def test_program_aggregates_only_for_admin_and_only_big_groups(clients, published):
    html = clients["administrador"].get("/admin/").get_data(as_text=True)
    section = re.search(r'<section class="tarjeta" id="agregados-programa">(.*?)</section>', html, re.S).group(1)
    for r in published["agregados_programa"]:
        assert r["n"] >= 10
        assert schema.PROGRAMS[r["programa"]] in section
    assert "Solo grupos de 10 o más" in section
    for role in ("profesor", "estudiante"):
        for page in ("/profesor/", "/estudiante/"):
            text = visible_text(clients[role].get(page).get_data(as_text=True))
            for name in schema.PROGRAMS.values():
                assert name not in text
    api = clients["administrador"].get("/api/v1/reporte/programas").get_json()
    assert {g["nombre"] for g in api["agregados_por_programa"]} == {
        schema.PROGRAMS[r["programa"]] for r in published["agregados_programa"]}
    assert clients["profesor"].get("/api/v1/reporte/programas").status_code == 403


def test_program_aggregates_are_coarsened_against_differencing(clients, published):
    # One student edited out of a group between two runs moves its exact n by 1: shown
    # exactly, that gives the student's program away. n is shown to the nearest 5 and
    # means/deviations to whole points (halves up), worked out here from the published rows.
    def nearest5(n):
        return 5 * int(n / 5 + 0.5)

    def whole(v):
        return None if v is None else float(int(float(v) + 0.5))

    api = clients["administrador"].get("/api/v1/reporte/programas").get_json()["agregados_por_programa"]
    shown = {(g["nombre"], v["variable"]): v for g in api for v in g["variables"]}
    assert shown
    for r in published["agregados_programa"]:
        v = shown[(schema.PROGRAMS[r["programa"]], r["variable"])]
        assert v["n"] == nearest5(r["n"]) and v["n"] % 5 == 0
        assert v["media"] == whole(r["media"]) and v["desviacion"] == whole(r["desviacion"])
    assert nearest5(12) == 10 and nearest5(13) == 15 and whole(61.5) == 62.0  # the rule itself
    html = clients["administrador"].get("/admin/").get_data(as_text=True)
    section = re.search(r'<section class="tarjeta" id="agregados-programa">(.*?)</section>', html, re.S).group(1)
    assert "múltiplos de 5" in section
    for r in published["agregados_programa"]:
        if r["n"] % 5:  # an exact, unrounded n never appears in a cell
            assert f"<td>≈ {r['n']}</td>" not in section and f"<td>{r['n']}</td>" not in section


def test_trend_labels_tell_apart_two_runs_of_one_day():
    from datetime import datetime

    from caoskol_portal.reports import trend_labels

    runs = [("a", datetime(2026, 12, 3, 7, 0)), ("b", datetime(2026, 12, 4, 7, 0)),
            ("c", datetime(2026, 12, 4, 15, 30)), ("d", None)]
    assert trend_labels(runs) == ["2026-12-03", "2026-12-04 07:00", "2026-12-04 15:30", "d"]


def test_charts_that_ignore_the_grade_filter_say_so(clients, published):
    html = clients["profesor"].get("/profesor/?grado=7").get_data(as_text=True)
    for title in ("Promedio por grado y materia", "Estudiantes por grado"):
        assert f"{title} (todo el colegio)" in html
    assert "Promedio por materia (grado 7°)" in html
    assert "(todo el colegio)" not in clients["profesor"].get("/profesor/").get_data(as_text=True)
