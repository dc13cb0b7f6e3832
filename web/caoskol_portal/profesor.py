"""The school dashboard (charts), the students' results table and its CSV export.

Teachers and administrators see these pages. The charts show the published run only; the
table reads ``colegio.notas`` with the public columns (never the study program).
"""

from __future__ import annotations

import csv
import io
from typing import Any, Callable, Iterator

from flask import Blueprint, Response, current_app, render_template, request, session, stream_with_context
from flask_login import current_user
from markupsafe import Markup

from caoskol import schema

from .security import roles
from .views import grade_arg, page_arg, report_state, reports

bp = Blueprint("profesor", __name__, url_prefix="/profesor")

PAGE_SIZES = (10, 25, 50, 100)
COLUMN_LABELS = {
    "id": "ID",
    "nombre": "Nombre",
    "grado": "Grado",
    "premios": "Premios",
    "matematicas": "Matemáticas",
    "ingles": "Inglés",
    "ciencias": "Ciencias",
}


def table_args() -> dict[str, Any]:
    orden = request.args.get("orden", "id")
    if orden not in schema.PUBLIC_STUDENT_COLUMNS:
        orden = "id"
    direccion = "desc" if request.args.get("dir") == "desc" else "asc"
    pagina = page_arg()
    por_pagina = page_arg("por_pagina", 25, max(PAGE_SIZES))
    if por_pagina not in PAGE_SIZES:
        por_pagina = 25
    sin_grado = request.args.get("grado") == "sin"
    return {"grado": grade_arg(), "sin_grado": sin_grado, "orden": orden, "direccion": direccion,
            "pagina": pagina, "por_pagina": por_pagina}


@bp.get("/")
@roles("profesor", "administrador")
def inicio():
    state = report_state()
    grado = grade_arg()
    charts = current_app.config["CHARTS_AVAILABLE"]

    def fragment() -> Markup:
        tablero = reports().dashboard(state, grado) if state.publicado else None
        tendencia = reports().trend(state) if state.publicado else None
        return Markup(render_template("profesor/_tablero.html", tablero=tablero, tendencia=tendencia, grado=grado,
                                      charts_available=charts))

    # The report part of the page is the same for every teacher: rendered once per run
    # version (and latest run, for the trend) and grade, then reused.
    key = (state.version, "html_tablero", state.ultima_run_id, state.ultima_estado, grado, charts)

    def page() -> str:
        contenido = reports().cache.get_or_compute(key, fragment)
        return render_template("profesor/inicio.html", state=state, contenido=contenido, publicado=state.publicado,
                               grado=grado, grados=schema.GRADES)

    # The dashboard is the page teachers reload: the whole page of one session is rendered
    # once per run state and grade, then reused (the template alone was a third of the
    # request's cost). The key holds everything the page shows that is not the report: the
    # account as checked this request (id, name, role), the session's CSRF secret (the logout
    # form) and the URL root. Pages with a pending message, or whose session has no CSRF
    # secret yet, are rendered fresh, since rendering changes the session.
    user = current_user._get_current_object()
    secret = session.get("csrf_token")
    if secret is None or "_flashes" in session:
        return page()
    page_key = (state.version, "pagina_tablero", key[2:], state.ultima_fecha, user.id, user.nombre, user.rol,
                secret, request.script_root)
    return reports().page_cache.get_or_compute(page_key, page)


@bp.get("/estudiantes")
@roles("profesor", "administrador")
def estudiantes():
    args = table_args()
    store = current_app.extensions["caoskol_store"]
    rows, total = store.students(
        grado=args["grado"], sin_grado=args["sin_grado"], orden=args["orden"], direccion=args["direccion"],
        limit=args["por_pagina"], offset=(args["pagina"] - 1) * args["por_pagina"],
    )
    paginas = max(1, -(-total // args["por_pagina"]))
    state = report_state()
    # Rows the current run quarantined are not in the report: flagged, and counted so the
    # table's total reconciles with the report's n (one query for the page's ids).
    revision = reports().en_revision(state, [r["id"] for r in rows])
    for r in rows:
        r["en_revision"] = revision.get(r["id"])
    en_revision_total = reports().en_revision_total(state, args["grado"], args["sin_grado"])
    return render_template(
        "profesor/estudiantes.html", rows=rows, total=total, paginas=paginas, args=args,
        columnas=[(c, COLUMN_LABELS[c]) for c in schema.PUBLIC_STUDENT_COLUMNS], tamanos=PAGE_SIZES,
        grados=schema.GRADES, state=state, en_revision_total=en_revision_total,
    )


def csv_safe(value: Any) -> Any:
    """Cells that a spreadsheet would run as a formula are prefixed with an apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


CSV_REVISION_COLUMNS = ("en_revision", "motivo_revision")
CSV_BATCH = 500


def csv_lines(rows: Iterator[dict[str, Any]],
              en_revision: Callable[[list[int]], dict[int, str]] | None = None) -> Iterator[str]:
    """The CSV, streamed in batches; ``en_revision`` maps a batch's ids to the reasons the
    current run quarantined them (one query per batch), filling the two last columns."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    yield "\ufeff"  # BOM: spreadsheets then read the UTF-8 names (Muñoz) correctly
    writer.writerow(schema.PUBLIC_STUDENT_COLUMNS + CSV_REVISION_COLUMNS)
    batch: list[dict[str, Any]] = []

    def flush() -> str:
        revision = en_revision([r["id"] for r in batch]) if en_revision else {}
        for row in batch:
            motivo = revision.get(row["id"])
            writer.writerow([csv_safe(row[c]) for c in schema.PUBLIC_STUDENT_COLUMNS]
                            + ["sí" if motivo is not None else "no", csv_safe(motivo)])
        batch.clear()
        out = buf.getvalue()
        buf.seek(0)
        buf.truncate()
        return out

    for row in rows:
        batch.append(row)
        if len(batch) >= CSV_BATCH:
            yield flush()
    yield flush()


@bp.get("/estudiantes.csv")
@roles("profesor", "administrador")
def estudiantes_csv():
    args = table_args()
    store = current_app.extensions["caoskol_store"]
    rows = store.iter_students(grado=args["grado"], sin_grado=args["sin_grado"], orden=args["orden"],
                               direccion=args["direccion"])
    state = report_state()
    run_id = state.run_id

    def en_revision(ids: list[int]) -> dict[int, str]:  # not cached: an export is read once
        return store.cuarentena_de(run_id, ids) if run_id else {}

    name = "estudiantes" + (f"_grado{args['grado']}" if args["grado"] else "") + ".csv"
    return Response(
        stream_with_context(csv_lines(rows, en_revision)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
