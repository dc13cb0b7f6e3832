"""Administrator: user management, pipeline health, quarantine, aggregates by program."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, send_from_directory, url_for
from flask_login import current_user
from werkzeug.security import generate_password_hash
from werkzeug.utils import safe_join

from caoskol import config as caoskol_config
from caoskol import schema

from . import records
from .forms import ConfirmForm, CreateUserForm, DeleteUserForm
from .queries import RecordRefused, UserExists
from .security import roles
from .views import page_arg, report_state, reports

bp = Blueprint("admin", __name__, url_prefix="/admin")
ADMIN = roles("administrador")
USERS_PER_PAGE = 50


def store():
    return current_app.extensions["caoskol_store"]


def temporary_password() -> str:
    # 12 characters from a URL-safe alphabet: ~72 bits. Shown once; must be changed at login.
    return secrets.token_urlsafe(9)


def hash_password(plain: str) -> str:
    return generate_password_hash(plain, method=caoskol_config.password_hash_method())


def airflow_links(run_id: str | None = None) -> dict[str, str]:
    base = current_app.config["AIRFLOW_URL"]
    links = {"dag": f"{base}/dags/{caoskol_config.DAG_ID}"}
    if run_id:
        from urllib.parse import quote

        links["run"] = f"{base}/dags/{caoskol_config.DAG_ID}/runs/{quote(run_id, safe='')}"
    return links


SAFE_EXPECTATION_KEYS = {"type", "column", "critical", "success", "observed", "unexpected_count",
                         "unexpected_percent", "error"}


def sanitize_validation(detail: Any) -> Any:
    """Data-quality summaries as the admin sees them: column-level facts only.

    The pipeline already drops row values for confidential columns; this keeps only the
    summary keys, whatever a producer wrote, and for a confidential column (programa) only
    scalar aggregates, so no per-student value can ride along.
    """
    if not isinstance(detail, dict):
        return detail
    out: dict[str, Any] = {}
    for suite, summary in detail.items():
        if isinstance(summary, dict) and isinstance(summary.get("expectations"), dict):
            clean = {}
            for key, exp in summary["expectations"].items():
                if isinstance(exp, dict):
                    exp = {k: v for k, v in exp.items() if k in SAFE_EXPECTATION_KEYS}
                    if exp.get("column") in schema.CONFIDENTIAL_COLUMNS and isinstance(exp.get("observed"), (list, dict)):
                        exp["observed"] = None
                clean[key] = exp
            summary = {**summary, "expectations": clean}
        out[suite] = summary
    return out


def docs_directory(ejecucion: dict[str, Any] | None) -> tuple[Path, str] | None:
    """(folder, index file) of a run's Data Docs, only if inside the pipeline's data folder."""
    if not ejecucion or not ejecucion.get("data_docs"):
        return None
    index = Path(ejecucion["data_docs"])
    if not index.is_absolute():
        index = caoskol_config.data_dir() / index
    try:
        index = index.resolve()
        index.relative_to(caoskol_config.data_dir())
    except (ValueError, OSError):
        return None
    if not index.is_file():
        return None
    return index.parent, index.name


# GX writes one result page per validation under ``validations/<suite>/...``. The index page
# lists them with JavaScript, which the offline Data Docs no longer load (caoskol.datadocs),
# so the portal links the result pages themselves.
VALIDATION_SUITES = {"caoskol_raw": "datos crudos", "caoskol_clean": "datos limpios"}


def validation_pages(ejecucion: dict[str, Any] | None) -> list[dict[str, str]]:
    """The run's validation result pages, one per suite (the newest), as paths relative to
    the Data Docs folder (served by ``data_docs``); raw suite first, then clean, then others."""
    found = docs_directory(ejecucion)
    if found is None:
        return []
    folder = found[0]
    base = folder / "validations"
    if not base.is_dir():
        return []
    suites = sorted((p.name for p in base.iterdir() if p.is_dir()),
                    key=lambda n: (list(VALIDATION_SUITES).index(n) if n in VALIDATION_SUITES else len(VALIDATION_SUITES), n))
    out = []
    for suite in suites:
        pages = []
        for page in (base / suite).rglob("*.html"):
            try:
                rel = page.resolve().relative_to(folder)
            except (ValueError, OSError):
                continue  # a link out of the docs folder is never offered
            pages.append((page.stat().st_mtime, rel.as_posix()))
        if pages:
            etiqueta = VALIDATION_SUITES.get(suite, suite)
            out.append({"suite": suite, "etiqueta": f"Resultados de validación: {etiqueta}", "archivo": max(pages)[1]})
    return out


def create_account(
    user_id: int | None, nombre: str, rol: str, grado: int | None, programa: int | None = None
) -> tuple[int, str]:
    """Create an account (and a student's results record); (id, temporary password).

    A student needs a grade and a study program (``records.new_student_problem``); the
    record is refused (``queries.RecordRefused``) if the cleaning policy would quarantine it.
    """
    if rol not in schema.ROLES:
        raise ValueError("rol desconocido")
    problem = records.new_student_problem(grado, programa) if rol == "estudiante" else None
    if rol != "estudiante" and programa is not None:
        problem = records.STAFF_PROGRAM_PROBLEM
    if rol != "estudiante" and grado is not None:
        problem = records.STAFF_GRADE_PROBLEM  # not dropped in silence: the admin meant something
    if problem:
        raise ValueError(problem)
    uid = user_id or store().next_user_id()
    plain = temporary_password()
    if rol == "estudiante":
        store().create_user(uid, nombre.strip(), rol, hash_password(plain), grado, programa=programa)
    else:
        store().create_user(uid, nombre.strip(), rol, hash_password(plain))
    return uid, plain


# --- dashboard ----------------------------------------------------------------------------


@bp.get("/")
@ADMIN
def inicio():
    state = report_state()
    programas = reports().program_aggregates(state) if state.publicado else []
    ejecuciones = store().ejecuciones(limit=5)
    cuarentena = store().cuarentena_por_motivo(state.run_id) if state.publicado else []
    return render_template(
        "admin/inicio.html", state=state, programas=programas, ejecuciones=ejecuciones, cuarentena=cuarentena,
        airflow=airflow_links(), min_grupo=caoskol_config.MIN_PROGRAM_GROUP,
        base_conteo=caoskol_config.PROGRAM_COUNT_BASE,
    )


# --- users --------------------------------------------------------------------------------


@bp.get("/usuarios")
@ADMIN
def usuarios():
    rol = request.args.get("rol") if request.args.get("rol") in schema.ROLES else None
    buscar = (request.args.get("buscar") or "").strip()[:100] or None
    pagina = page_arg()
    rows, total = store().list_users(rol=rol, buscar=buscar, limit=USERS_PER_PAGE, offset=(pagina - 1) * USERS_PER_PAGE)
    return render_template(
        "admin/usuarios.html", rows=rows, total=total, pagina=pagina, paginas=max(1, -(-total // USERS_PER_PAGE)),
        rol=rol, buscar=buscar or "", form=CreateUserForm(), accion=ConfirmForm(), roles=schema.ROLES,
    )


@bp.post("/usuarios")
@ADMIN
def crear_usuario():
    form = CreateUserForm()
    if not form.validate_on_submit():
        form.programa.data = ""  # write-only: a page never shows a program, not even the one just sent
        rows, total = store().list_users(limit=USERS_PER_PAGE)
        return render_template(
            "admin/usuarios.html", rows=rows, total=total, pagina=1, paginas=max(1, -(-total // USERS_PER_PAGE)),
            rol=None, buscar="", form=form, accion=ConfirmForm(), roles=schema.ROLES,
        ), 400
    grado = int(form.grado.data) if form.grado.data else None
    programa = int(form.programa.data) if form.programa.data else None
    try:
        uid, plain = create_account(form.id.data, form.nombre.data, form.rol.data, grado, programa)
    except (UserExists, RecordRefused, ValueError) as exc:  # the form checked all but duplicates
        flash(f"No se creó el usuario: {str(exc).rstrip('.')}.", "error")
        return redirect(url_for("admin.usuarios")), 303
    current_app.logger.info("usuario creado", extra={"evento": "usuario_creado", "objetivo": uid, "por": current_user.id})
    return render_template("admin/clave_temporal.html", usuario=store().get_user(uid), clave=plain, creado=True), 201


@bp.post("/usuarios/<int:uid>/clave")
@ADMIN
def restablecer_clave(uid: int):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if store().get_user(uid) is None:
        abort(404)
    plain = temporary_password()
    store().set_password(uid, hash_password(plain), True)
    current_app.logger.info("clave restablecida", extra={"evento": "clave_restablecida", "objetivo": uid, "por": current_user.id})
    return render_template("admin/clave_temporal.html", usuario=store().get_user(uid), clave=plain, creado=False)


def _set_active(uid: int, activo: bool):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if uid == current_user.id:
        flash("No puede desactivar su propia cuenta.", "error")
        return redirect(url_for("admin.usuarios"))
    if not store().set_active(uid, activo):
        abort(404)
    flash(f"Usuario {uid} {'activado' if activo else 'desactivado'}.", "info")
    return redirect(url_for("admin.usuarios", buscar=uid))


@bp.post("/usuarios/<int:uid>/desactivar")
@ADMIN
def desactivar(uid: int):
    return _set_active(uid, False)


@bp.post("/usuarios/<int:uid>/activar")
@ADMIN
def activar(uid: int):
    return _set_active(uid, True)


@bp.get("/usuarios/<int:uid>/eliminar")
@ADMIN
def confirmar_eliminar(uid: int):
    usuario = store().get_user(uid)
    if usuario is None:
        abort(404)
    return render_template("admin/eliminar.html", usuario=usuario, form=DeleteUserForm(objetivo=str(uid)))


@bp.post("/usuarios/<int:uid>/eliminar")
@ADMIN
def eliminar(uid: int):
    form = DeleteUserForm()
    usuario = store().get_user(uid)
    if usuario is None:
        abort(404)
    if uid == current_user.id:
        flash("No puede eliminar su propia cuenta.", "error")
        return redirect(url_for("admin.usuarios"))
    if not form.validate_on_submit() or form.confirmar.data.strip() != str(uid):
        flash("Escriba el ID del usuario para confirmar.", "error")
        return render_template("admin/eliminar.html", usuario=usuario, form=form), 400
    store().delete_user(uid)
    current_app.logger.info("usuario eliminado", extra={"evento": "usuario_eliminado", "objetivo": uid, "por": current_user.id})
    flash(f"Usuario {uid} y su registro de resultados eliminados.", "info")
    return redirect(url_for("admin.usuarios"))


# --- pipeline health ------------------------------------------------------------------


@bp.get("/ejecuciones")
@ADMIN
def ejecuciones():
    rows = store().ejecuciones(limit=30)
    for r in rows:
        r["docs"] = docs_directory(r) is not None
        r["validaciones"] = validation_pages(r) if r["docs"] else []
    return render_template("admin/ejecuciones.html", rows=rows, state=report_state(), airflow=airflow_links())


@bp.get("/ejecuciones/<run_id>")
@ADMIN
def ejecucion(run_id: str):
    row = store().ejecucion(run_id)
    if row is None:
        abort(404)
    row["validacion_detalle"] = sanitize_validation(row.get("validacion_detalle"))
    return render_template(
        "admin/ejecucion.html", e=row, docs=docs_directory(row) is not None, validaciones=validation_pages(row),
        motivos=store().cuarentena_por_motivo(run_id),
        airflow=airflow_links(run_id), state=report_state(),
    )


@bp.get("/ejecuciones/<run_id>/data-docs/")
@bp.get("/ejecuciones/<run_id>/data-docs/<path:archivo>")
@ADMIN
def data_docs(run_id: str, archivo: str | None = None):
    found = docs_directory(store().ejecucion(run_id))
    if found is None:
        abort(404)
    folder, index = found
    archivo = archivo or index
    if safe_join(str(folder), archivo) is None:
        abort(404)
    g.data_docs = True  # served sandboxed (see security.CSP_SANDBOX)
    return send_from_directory(folder, archivo)


@bp.get("/cuarentena")
@ADMIN
def cuarentena():
    state = report_state()
    run_id = request.args.get("run_id") or state.run_id
    pagina = page_arg()
    rows, total = store().cuarentena(run_id, limit=50, offset=(pagina - 1) * 50) if run_id else ([], 0)
    for r in rows:
        if isinstance(r.get("datos"), dict):
            # `datos` never holds the study program; refuse to show one if a producer erred.
            for key in schema.CONFIDENTIAL_COLUMNS:
                r["datos"].pop(key, None)
    return render_template(
        "admin/cuarentena.html", rows=rows, total=total, pagina=pagina, paginas=max(1, -(-total // 50)),
        run_id=run_id, motivos=store().cuarentena_por_motivo(run_id) if run_id else [], state=state,
    )
