"""JSON API, version 1 (/api/v1). Same authorization as the pages; documented in docs/API.md
and docs/openapi.yaml.

Authentication is the portal's session: ``POST /api/v1/sesion`` with a JSON body
``{"id": ..., "clave": ...}`` (never credentials in a URL). State-changing calls made with a
session carry the CSRF token from ``GET /api/v1/sesion`` in the ``X-CSRFToken`` header.
Errors are JSON ``{"error": code, "mensaje": text, "estado": status}``, never a stack trace.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from caoskol import schema

from . import admin as admin_views
from . import records
from .auth import LOGIN_FAILED, authenticate, change_password, login_limits, note_failed_login
from .extensions import csrf
from .json_errors import json_error
from .names import clean_name
from .queries import RecordRefused, UserExists
from .security import end_session, publico, roles, start_session
from .views import error_response, grade_arg, page_arg, report_state, reports

bp = Blueprint("api", __name__, url_prefix="/api/v1")

ALL = ("estudiante", "profesor", "administrador")
STAFF = ("profesor", "administrador")
MAX_PAGE = 500


def error(status: int, code: str, message: str):
    return json_error(status, code, message)


@bp.before_request
def json_bodies_only():
    """Every POST and PUT of the API reads a JSON object: any other content type is a 415
    ``json_requerido`` (as docs/API.md says) before the view runs. Runs after the app's own
    checks, so a caller without a session or a CSRF token still gets 401 or 400 first."""
    if request.method in ("POST", "PUT", "PATCH") and not request.is_json:
        return error_response(415)
    return None


def json_body() -> dict[str, Any] | None:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else None


def paging() -> tuple[int, int]:
    return page_arg("pagina"), page_arg("por_pagina", 100, MAX_PAGE)


def store():
    return current_app.extensions["caoskol_store"]


def run_json(state) -> dict[str, Any]:
    return state.as_json()


# --- session --------------------------------------------------------------------------------


@bp.get("/sesion")
@publico
def sesion():
    user = current_user.as_json() if current_user.is_authenticated else None
    return jsonify(autenticado=user is not None, usuario=user, csrf_token=generate_csrf())


@bp.post("/sesion")
@publico
@csrf.exempt
@login_limits
def iniciar_sesion():
    # Exempt from the CSRF token (there is no session yet) but JSON only (json_bodies_only):
    # a cross-site form cannot send application/json without a CORS preflight, which this
    # API never grants.
    body = json_body() or {}
    row = authenticate(body.get("id"), body.get("clave"))
    if row is None:
        note_failed_login(body.get("id"))
        return error(401, "credenciales", LOGIN_FAILED)
    user = start_session(row)
    return jsonify(usuario=user.as_json(), csrf_token=generate_csrf())


@bp.delete("/sesion")
@roles(*ALL)
def cerrar_sesion():
    end_session()
    return jsonify(mensaje="Sesión cerrada.")


@bp.post("/sesion/clave")
@roles(*ALL)
def cambiar_clave():
    body = json_body()
    if body is None or not isinstance(body.get("actual"), str) or not isinstance(body.get("nueva"), str):
        return error(400, "solicitud_invalida", "Envíe {\"actual\": ..., \"nueva\": ...}.")
    problem = change_password(current_user.id, body["actual"], body["nueva"])
    if problem:
        return error(400, "clave_rechazada", problem)
    return jsonify(mensaje="Clave cambiada.", csrf_token=generate_csrf())


# --- users (administrators) -----------------------------------------------------------------


def user_json(u: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": u["id"], "nombre": u["nombre"], "rol": u["rol"], "grado": u.get("grado"),
        "activo": bool(u["activo"]), "debe_cambiar_clave": bool(u["debe_cambiar_clave"]),
        "creado_en": u["creado_en"].isoformat() if u.get("creado_en") else None,
    }


@bp.get("/usuarios")
@roles("administrador")
def usuarios():
    pagina, por_pagina = paging()
    rol = request.args.get("rol") if request.args.get("rol") in schema.ROLES else None
    rows, total = store().list_users(rol=rol, buscar=request.args.get("buscar") or None, limit=por_pagina,
                                     offset=(pagina - 1) * por_pagina)
    return jsonify(total=total, pagina=pagina, por_pagina=por_pagina, usuarios=[user_json(u) for u in rows])


@bp.post("/usuarios")
@roles("administrador")
def crear_usuario():
    body = json_body()
    if body is None:
        return error(400, "solicitud_invalida", "Envíe un objeto JSON.")
    unknown = sorted(set(body) - set(records.ACCOUNT_FIELDS))
    if unknown:
        return error(400, "solicitud_invalida", records.unknown_field(unknown[0]))
    nombre, rol, uid, grado = body.get("nombre"), body.get("rol"), body.get("id"), body.get("grado")
    programa = body.get("programa")  # write-only: never in a response
    nombre, problem = clean_name(nombre)
    if problem:
        return error(400, "solicitud_invalida", problem)
    if rol not in schema.ROLES:
        return error(400, "solicitud_invalida", f"rol: uno de {', '.join(schema.ROLES)}.")
    if uid is not None and (not isinstance(uid, int) or isinstance(uid, bool) or not 0 < uid <= schema.MAX_ID):
        return error(400, "solicitud_invalida", "id: entero positivo (u omítalo).")
    try:
        # A student's grade and program are checked there (records.new_student_problem).
        new_id, plain = admin_views.create_account(uid, nombre, rol, grado, programa)
    except (ValueError, RecordRefused) as exc:
        return error(400, "solicitud_invalida", str(exc))
    except UserExists as exc:
        return error(409, "ya_existe", str(exc))
    return jsonify(usuario=user_json(store().get_user(new_id)), clave_temporal=plain), 201


@bp.get("/usuarios/<int:uid>")
@roles("administrador")
def usuario(uid: int):
    u = store().get_user(uid)
    return jsonify(usuario=user_json(u)) if u else error(404, "no_encontrado", f"No existe el usuario {uid}.")


@bp.delete("/usuarios/<int:uid>")
@roles("administrador")
def eliminar_usuario(uid: int):
    if uid == current_user.id:
        return error(409, "propia_cuenta", "No puede eliminar su propia cuenta.")
    if not store().delete_user(uid):
        return error(404, "no_encontrado", f"No existe el usuario {uid}.")
    return jsonify(mensaje=f"Usuario {uid} y su registro de resultados eliminados.")


# --- results ----------------------------------------------------------------------------------


@bp.get("/resultados")
@roles(*STAFF)
def resultados():
    pagina, por_pagina = paging()
    orden = request.args.get("orden", "id")
    grado = schema.grade_from_text(request.args.get("grado", ""))
    rows, total = store().students(grado=grado, orden=orden if orden in schema.PUBLIC_STUDENT_COLUMNS else "id",
                                   direccion="desc" if request.args.get("dir") == "desc" else "asc",
                                   limit=por_pagina, offset=(pagina - 1) * por_pagina)
    state = report_state()
    return jsonify(total=total, pagina=pagina, por_pagina=por_pagina, resultados=rows,
                   en_revision=revision_json(state, rows), en_revision_total=reports().en_revision_total(state, grado))


def revision_json(state, rows) -> dict[str, str]:
    """{id (text): reason} for the rows the current run quarantined (not in the report)."""
    return {str(k): v for k, v in sorted(reports().en_revision(state, [r["id"] for r in rows]).items())}


@bp.get("/resultados/grado/<int:grado>")
@roles(*STAFF)
def resultados_grado(grado: int):
    rows, total = store().students(grado=grado, limit=None)
    state = report_state()
    return jsonify(grado=grado, total=total, resultados=rows, en_revision=revision_json(state, rows),
                   en_revision_total=reports().en_revision_total(state, grado))


@bp.get("/resultados/<int:sid>")
@roles(*ALL)
def resultado(sid: int):
    if current_user.rol == "estudiante" and sid != current_user.id:
        return error(403, "prohibido", "Solo puede ver sus propios resultados.")
    row = store().student(sid)
    if row is None:
        return error(404, "no_encontrado", f"No hay resultados del estudiante {sid}.")
    state = report_state()
    vista = reports().student_view(state, row)
    return jsonify(resultado=row, comparacion={"grado": vista["materias"], "premios": vista["premios"]},
                   en_revision=vista["en_revision"], reporte=run_json(state))


@bp.put("/resultados/<int:sid>")
@roles("administrador")
def guardar_resultado(sid: int):
    body = json_body()
    if body is None:
        return error(400, "solicitud_invalida", "Envíe un objeto JSON.")
    values, problem = records.check_fields(body)
    if problem:
        return error(400, "solicitud_invalida", problem)
    exists = store().student(sid) is not None
    if not exists:
        user = store().get_user(sid)
        if user is None or user["rol"] != "estudiante":
            return error(404, "no_encontrado", f"No existe el estudiante {sid} (cree primero su usuario).")
        if "programa" not in values:  # as when the account is created: no record without one
            return error(400, "solicitud_invalida", records.PROGRAM_RULE)
        values.setdefault("nombre", user["nombre"])
    try:
        result = store().save_scores(sid, values)
    except RecordRefused as exc:
        return error(400, "solicitud_invalida", str(exc))
    # Read back through the public columns: never the program just written.
    return jsonify(resultado=store().student(sid), accion=result), (201 if result == "creado" else 200)


# --- the published report ---------------------------------------------------------------------


def _require_report():
    state = report_state()
    if not state.publicado:
        return state, error(404, "sin_reporte", "Aún no hay un reporte publicado.")
    return state, None


@bp.get("/reporte")
@roles(*STAFF)
def reporte():
    state, err = _require_report()
    if err:
        return err
    return jsonify(reporte=run_json(state), **reports().school_summary(state))


@bp.get("/reporte/tablero")
@roles(*STAFF)
def tablero():
    state, err = _require_report()
    if err:
        return err
    grado = grade_arg()

    def body() -> str:
        return current_app.json.dumps({"reporte": run_json(state), "tablero": reports().dashboard(state, grado)})

    # The same answer for every teacher until the run state changes: serialized once (the
    # JSON encoding was most of this endpoint's own cost), keyed by the whole state.
    text = reports().cache.get_or_compute((state.version, "json_tablero", state, grado), body)
    return current_app.response_class(text + "\n", mimetype=current_app.json.mimetype)


@bp.get("/reporte/tendencia")
@roles(*STAFF)
def tendencia():
    state, err = _require_report()
    if err:
        return err
    return jsonify(reporte=run_json(state), tendencia=reports().trend(state))


@bp.get("/reporte/programas")
@roles("administrador")
def programas():
    state, err = _require_report()
    if err:
        return err
    return jsonify(reporte=run_json(state), minimo_por_grupo=admin_views.caoskol_config.MIN_PROGRAM_GROUP,
                   agregados_por_programa=reports().program_aggregates(state))


# --- pipeline health (administrators) ---------------------------------------------------------


def run_row_json(e: dict[str, Any]) -> dict[str, Any]:
    out = dict(e)
    for k in ("fecha_logica", "inicio", "fin"):
        out[k] = e[k].isoformat() if e.get(k) else None
    out["data_docs"] = bool(admin_views.docs_directory(e))
    out["validacion_detalle"] = admin_views.sanitize_validation(e.get("validacion_detalle"))
    return out


@bp.get("/ejecuciones")
@roles("administrador")
def ejecuciones():
    return jsonify(ejecuciones=[run_row_json(e) for e in store().ejecuciones(limit=30)], reporte=run_json(report_state()))


@bp.get("/ejecuciones/<run_id>")
@roles("administrador")
def ejecucion(run_id: str):
    e = store().ejecucion(run_id)
    if e is None:
        return error(404, "no_encontrado", "No existe esa ejecución.")
    return jsonify(ejecucion=run_row_json(e), cuarentena_por_motivo=store().cuarentena_por_motivo(run_id))


@bp.get("/cuarentena")
@roles("administrador")
def cuarentena():
    pagina, por_pagina = paging()
    run_id = request.args.get("run_id") or report_state().run_id
    if not run_id:
        return jsonify(run_id=None, total=0, filas=[])
    rows, total = store().cuarentena(run_id, limit=por_pagina, offset=(pagina - 1) * por_pagina)
    for r in rows:
        if isinstance(r.get("datos"), dict):
            for key in schema.CONFIDENTIAL_COLUMNS:
                r["datos"].pop(key, None)
    return jsonify(run_id=run_id, total=total, pagina=pagina, por_pagina=por_pagina, filas=rows)
