"""End to end: the portal under gunicorn, driven by a real headless Chromium (Debian's
/usr/bin/chromium through Playwright; never `playwright install`).

Each role logs in through the form; the teacher's charts must actually draw (pixels on the
canvas) with the published numbers; the students table sorts, pages and exports CSV.
Screenshots are saved under test-artifacts/portal/ (gitignored) for people to look at.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "portal"))
import portal_data  # noqa: E402

from caoskol import db, schema  # noqa: E402

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ARTIFACTS = REPO / "test-artifacts" / "portal"
VENDOR = REPO / "web" / "caoskol_portal" / "static" / "vendor" / "chart.umd.min.js"


def ensure_assets() -> None:
    """The charting library comes from the npm registry at build time (web/package-lock.json)."""
    if VENDOR.exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is needed to build the portal's assets: apt-get install -y npm")
    web = REPO / "web"
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=web, check=True)
    subprocess.run([npm, "run", "build"], cwd=web, check=True)
    assert VENDOR.exists()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def e2e_data(fresh_databases, seed_dir):
    old = os.environ.get("CAOSKOL_PASSWORD_HASH_METHOD")
    os.environ["CAOSKOL_PASSWORD_HASH_METHOD"] = portal_data.HASH_METHOD
    try:
        yield portal_data.shared(fresh_databases, seed_dir)
    finally:
        if old is None:
            os.environ.pop("CAOSKOL_PASSWORD_HASH_METHOD", None)
        else:
            os.environ["CAOSKOL_PASSWORD_HASH_METHOD"] = old


@pytest.fixture(scope="module")
def server(e2e_data):
    ensure_assets()
    port = free_port()
    env = {
        **os.environ,
        "CAOSKOL_ENV": "production",
        "CAOSKOL_SECRET_KEY": "e2e-" + os.urandom(16).hex(),
        "CAOSKOL_COLEGIO_URL": e2e_data.colegio_url,
        "CAOSKOL_REPORTES_URL": e2e_data.reportes_url,
        "CAOSKOL_AIRFLOW_URL": "http://127.0.0.1:8080",
        "CAOSKOL_PASSWORD_HASH_METHOD": portal_data.HASH_METHOD,
    }
    if e2e_data.data_dir:
        env["CAOSKOL_DATA_DIR"] = e2e_data.data_dir  # the runs' Data Docs
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = open(ARTIFACTS / "gunicorn.log", "w")
    proc = subprocess.Popen([gunicorn, "-w", "2", "-b", f"127.0.0.1:{port}", "caoskol_portal:create_app()"],
                            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while True:
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            log.close()
            pytest.fail("gunicorn did not start:\n" + (ARTIFACTS / "gunicorn.log").read_text()[-3000:])
        time.sleep(0.3)
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is needed: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture()
def page_for(browser, server, e2e_data):
    contexts = []

    def make(role: str):
        ctx = browser.new_context(base_url=server, accept_downloads=True, viewport={"width": 1280, "height": 900},
                                  locale="es-CO")
        contexts.append(ctx)
        page = ctx.new_page()
        page.problems = []  # type: ignore[attr-defined]
        page.on("console", lambda m: page.problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: page.problems.append(str(e)))
        page.on("request", lambda r: None if r.url.startswith(server) or r.url.startswith("data:")
                else page.problems.append(f"request to another origin: {r.url}"))
        uid, pw = e2e_data.accounts[role]
        page.goto("/")
        assert "Resultados de Pruebas Anuales" in page.content()
        page.fill("#id", str(uid))
        page.fill("#clave", pw)
        page.click("#form-ingreso button[type=submit]")
        page.wait_for_load_state("networkidle")
        return page

    yield make
    for ctx in contexts:
        ctx.close()


def published(e2e_data):
    eng = db.engine(e2e_data.reportes_url)
    run = e2e_data.current_run
    with eng.connect() as conn:
        stats = [dict(r) for r in conn.execute(schema.estadisticas.select().where(schema.estadisticas.c.run_id == run)).mappings()]
        dist = [dict(r) for r in conn.execute(schema.distribucion_premios.select().where(
            schema.distribucion_premios.c.run_id == run)).mappings()]
        per_grade = [dict(r) for r in conn.execute(schema.estudiantes_por_grado.select().where(
            schema.estudiantes_por_grado.c.run_id == run)).mappings()]
    eng.dispose()
    return stats, dist, per_grade


def chart_data(page, canvas_id):
    return page.evaluate(
        """(id) => { const c = Chart.getChart(document.getElementById(id));
                   return c ? {labels: c.data.labels, datasets: c.data.datasets.map(d => ({label: d.label, data: d.data}))} : null; }""",
        canvas_id,
    )


def painted_pixels(page, canvas_id):
    return page.evaluate(
        """(id) => { const c = document.getElementById(id); const ctx = c.getContext('2d');
                   const d = ctx.getImageData(0, 0, c.width, c.height).data; let n = 0;
                   for (let i = 3; i < d.length; i += 4) { if (d[i] > 0) n++; } return n; }""",
        canvas_id,
    )


def test_teacher_charts_draw_the_published_numbers(page_for, e2e_data):
    page = page_for("profesor")
    assert page.url.endswith("/profesor/")
    page.wait_for_selector("body[data-graficos=listos]", timeout=10000)
    stats, dist, per_grade = published(e2e_data)
    school = {s["variable"]: s for s in stats if s["ambito"] == "escuela"}

    promedios = chart_data(page, "grafico-promedios")
    assert promedios["labels"] == ["Matemáticas", "Inglés", "Ciencias"]
    for value, m in zip(promedios["datasets"][0]["data"], schema.SUBJECTS):
        assert value == pytest.approx(school[m]["media"])

    pie = chart_data(page, "grafico-premios")
    school_dist = [d for d in dist if d["ambito"] == "escuela"]
    assert pie["datasets"][0]["data"] == [sum(d["n"] for d in school_dist if d["premios"] > 0),
                                          sum(d["n"] for d in school_dist if d["premios"] == 0)]

    by_grade = chart_data(page, "grafico-por-grado")
    grades = sorted({s["grado"] for s in stats if s["ambito"] == "grado"})
    assert by_grade["labels"] == [f"{g}°" for g in grades]
    for ds, m in zip(by_grade["datasets"], schema.SUBJECTS):
        expected = [next(s["media"] for s in stats if s["ambito"] == "grado" and s["grado"] == g and s["variable"] == m)
                    for g in grades]
        assert ds["data"] == pytest.approx(expected)

    students = chart_data(page, "grafico-estudiantes-grado")
    assert sum(students["datasets"][0]["data"]) == sum(r["n"] for r in per_grade)

    corr = chart_data(page, "grafico-correlaciones")
    assert all("n=" in label for label in corr["labels"])

    for canvas in ("grafico-promedios", "grafico-premios", "grafico-por-grado", "grafico-estudiantes-grado",
                   "grafico-correlaciones"):
        assert painted_pixels(page, canvas) > 500, f"{canvas} drew nothing"
    if e2e_data.previous_run:
        assert painted_pixels(page, "grafico-tendencia") > 500
    assert "Datos del" in page.inner_text("#estado-reporte")
    page.screenshot(path=str(ARTIFACTS / "profesor-tablero.png"), full_page=True)

    page.select_option("#grado", "9")
    page.click("#filtro-grado button")
    page.wait_for_selector("body[data-graficos=listos]")
    assert "grado=9" in page.url
    g9 = {s["variable"]: s for s in stats if s["ambito"] == "grado" and s["grado"] == 9}
    assert chart_data(page, "grafico-promedios")["datasets"][0]["data"] == pytest.approx(
        [g9[m]["media"] for m in schema.SUBJECTS])
    page.screenshot(path=str(ARTIFACTS / "profesor-tablero-grado9.png"), full_page=True)
    assert page.problems == [], page.problems  # no CSP violation, no script error, no other origin


def test_students_table_sorts_pages_and_exports_csv(page_for, e2e_data, tmp_path):
    page = page_for("profesor")
    page.click("nav.menu >> text=Estudiantes")
    page.wait_for_selector("#tabla-estudiantes")
    def column(name):  # missing scores read "sin dato" and sort first, as NULL does in SQL
        return [-1 if x == "sin dato" else int(x) for x in page.locator(f"td[data-columna={name}]").all_inner_texts()]

    page.click("th[data-columna=matematicas] a")
    maths = column("matematicas")
    assert maths == sorted(maths) and len(maths) == 25
    page.click("th[data-columna=matematicas] a")  # again: descending
    maths_desc = column("matematicas")
    assert maths_desc == sorted(maths_desc, reverse=True) and maths_desc[0] >= maths[-1]
    first_page_ids = page.locator("td[data-columna=id]").all_inner_texts()
    page.click("#pagina-siguiente")
    assert "pagina=2" in page.url
    assert not set(first_page_ids) & set(page.locator("td[data-columna=id]").all_inner_texts())
    page.screenshot(path=str(ARTIFACTS / "profesor-estudiantes.png"), full_page=True)

    with page.expect_download() as info:
        page.click("#exportar-csv")
    path = tmp_path / "export.csv"
    info.value.save_as(path)
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    # The public columns, then whether the row is under review (quarantined by the current run).
    assert list(rows[0]) == [*schema.PUBLIC_STUDENT_COLUMNS, "en_revision", "motivo_revision"]
    eng = db.engine(e2e_data.colegio_url)
    with eng.connect() as conn:
        from sqlalchemy import func, select

        total = conn.execute(select(func.count()).select_from(schema.notas)).scalar()
    eng.dispose()
    assert len(rows) == total
    exported_maths = [int(r["matematicas"]) for r in rows if r["matematicas"]]
    assert exported_maths == sorted(exported_maths, reverse=True)  # the export keeps the table's order
    assert any(r["nombre"] == "Mario Muñoz" for r in rows)
    assert page.problems == [], page.problems


def test_student_sees_their_own_results(page_for):
    page = page_for("estudiante")
    assert page.url.endswith("/estudiante/")
    assert page.inner_text("#nombre-estudiante") == "Mario Muñoz"
    rows = page.locator("#tabla-materias tbody tr")
    assert rows.count() == 4
    assert "Datos del" in page.inner_text("#estado-reporte")
    page.screenshot(path=str(ARTIFACTS / "estudiante.png"), full_page=True)
    assert page.problems == [], page.problems
    # The student cannot open the teacher's pages.
    resp = page.goto("/profesor/")
    assert resp.status == 403 and "No tiene permiso" in page.content()


def test_admin_pages_and_logout(page_for, e2e_data):
    page = page_for("administrador")
    assert page.url.endswith("/admin/")
    assert page.locator("#agregados-programa table").count() == 1
    assert page.get_attribute("#enlace-airflow", "href").startswith("http://127.0.0.1:8080/dags/")
    page.screenshot(path=str(ARTIFACTS / "admin-inicio.png"), full_page=True)
    for url, shot in (("/admin/usuarios", "admin-usuarios.png"), ("/admin/ejecuciones", "admin-ejecuciones.png"),
                      ("/admin/cuarentena", "admin-cuarentena.png"),
                      (f"/admin/ejecuciones/{e2e_data.current_run}", "admin-ejecucion.png")):
        assert page.goto(url).status == 200
        page.screenshot(path=str(ARTIFACTS / shot), full_page=True)
    if e2e_data.data_dir:  # a real pipeline run: its Great Expectations Data Docs open from the run page
        page.goto(f"/admin/ejecuciones/{e2e_data.current_run}")
        # The validation result page itself (GX's index lists pages with JavaScript, not loaded offline).
        page.click("#enlaces-validacion a[data-suite=caoskol_raw]")
        page.wait_for_load_state("load")
        assert "/data-docs/validations/caoskol_raw/" in page.url
        assert "Expectation Validation Result" in page.inner_text("body")
        page.screenshot(path=str(ARTIFACTS / "admin-data-docs.png"), full_page=True)
        page.problems.clear()  # GX's own page asks for its CDN assets; the sandboxing CSP refuses them
    # Create a student through the form; the temporary password is shown once.
    page.goto("/admin/usuarios")
    page.fill("#form-crear-usuario input[name=nombre]", "Estudiante Navegador Ñu")
    page.select_option("#form-crear-usuario select[name=rol]", "estudiante")
    page.select_option("#form-crear-usuario select[name=grado]", "11")
    page.select_option("#form-crear-usuario select[name=programa]", "1")  # required for a student
    page.click("#form-crear-usuario button[type=submit]")
    assert page.inner_text("#clave-temporal")
    new_id = page.inner_text("#usuario-id")
    page.screenshot(path=str(ARTIFACTS / "admin-usuario-creado.png"), full_page=True)
    # Delete it again, with the confirmation page.
    page.goto(f"/admin/usuarios/{new_id}/eliminar")
    page.fill("#confirmar", new_id)
    page.click("#form-eliminar button[type=submit]")
    assert "eliminados" in page.content()
    page.click("#cerrar-sesion")
    page.wait_for_load_state("networkidle")
    assert "Sesión cerrada." in page.content()
    assert page.goto("/admin/").url.endswith("/")  # back at the login page
    assert page.problems == [], page.problems
