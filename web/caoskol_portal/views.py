"""What every page shares: the report state, template helpers, error pages."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app, g, render_template, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from caoskol import schema

from .auth import MAX_ID
from .json_errors import json_error
from .reports import Reports, ReportState, fecha_larga, grade_label
from .security import is_api_request

log = logging.getLogger("caoskol_portal")


def grade_arg() -> int | None:
    """The ``?grado=`` filter of a dashboard: a school grade, or None for the whole school."""
    grado = schema.grade_from_text(request.args.get("grado", ""))
    return grado if grado in schema.GRADES else None


# More pages than any school has, and small enough that (page - 1) x page size stays far
# inside what SQL's LIMIT/OFFSET accepts (99999999999999999999 was a MariaDB syntax error).
MAX_PAGE_NUMBER = 1_000_000


def page_arg(name: str = "pagina", default: int = 1, maximum: int = MAX_PAGE_NUMBER) -> int:
    """A page number (or page size) from the query string, always within 1..``maximum``.

    Anything but ASCII digits ("abc", "-3", "³", "٣") gives ``default``; 0 gives 1; above
    ``maximum`` gives ``maximum``. A page past the last one is an empty page, never an error.
    """
    text = request.args.get(name, "")
    if not (text.isascii() and text.isdigit()):
        return default
    digits = text.lstrip("0") or "0"
    if len(digits) > len(str(maximum)):  # int() of 5,000 digits is refused, and slow below that
        return maximum
    return min(maximum, max(1, int(digits)))


class IdConverter(IntegerConverter):
    """``<int:...>`` in every route (see create_app): 1 to 10 ASCII digits, 1..MAX_ID.

    Werkzeug's own accepts any Unicode digit ("٣" is 3), 0, and 20-digit numbers that no
    INT column holds; here those are a 404 before the view runs.
    """

    regex = r"[0-9]{1,10}"

    def __init__(self, map, fixed_digits: int = 0, min: int | None = 1, max: int | None = MAX_ID,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits, min, max, False)


MESSAGES = {
    400: "Solicitud no válida.",
    401: "Inicie sesión para continuar.",
    403: "No tiene permiso para ver esta página.",
    404: "No encontrado.",
    405: "Método no permitido.",
    413: "La solicitud es demasiado grande.",
    415: "Envíe el cuerpo como un objeto JSON (Content-Type: application/json).",
    429: "Demasiados intentos. Espere unos minutos y vuelva a intentarlo.",
    500: "Error interno. El equipo técnico fue avisado.",
    503: "Servicio no disponible por el momento.",
}
CODES = {400: "solicitud_invalida", 401: "no_autenticado", 403: "prohibido", 404: "no_encontrado",
         405: "metodo_no_permitido", 413: "demasiado_grande", 415: "json_requerido", 429: "demasiados_intentos",
         500: "error_interno", 503: "no_disponible"}
# An API answer talks about the request, not about a page (these replace MESSAGES there).
API_MESSAGES = {
    403: "No tiene permiso para esta operación.",
}
CSRF_MESSAGE = "La sesión del formulario expiró o no es válida. Recargue la página."
API_CSRF_MESSAGE = "Falta el token CSRF o no es válido: envíe en X-CSRFToken el de GET /api/v1/sesion."


def reports() -> Reports:
    return current_app.extensions["caoskol_reports"]


def report_state() -> ReportState:
    """The report state, asked once per request."""
    if "report_state" not in g:
        g.report_state = reports().state()
    return g.report_state


def _decimal(value: Any, digits: int) -> str:
    """Fixed decimals with a comma; a value that rounds to zero is "0,00", never "-0,00"."""
    x = round(float(value), digits)
    if x == 0:
        x = 0.0  # -0.0 == 0: drop the sign of a negative zero
    return f"{x:.{digits}f}".replace(".", ",")


def fmt_num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "sin dato"
    if isinstance(value, int):
        return str(value)
    return _decimal(value, digits)


def fmt_r(value: Any) -> str:
    return "no definido" if value is None else _decimal(value, 2)


def error_response(code: int, message: str | None = None, error: str | None = None):
    if is_api_request():
        message = message or API_MESSAGES.get(code) or MESSAGES.get(code, "Error.")
        return json_error(code, error or CODES.get(code, "error"), message)
    message = message or MESSAGES.get(code, "Error.")
    template = "auth/login.html" if code == 429 and request.endpoint == "auth.login" else "errores/error.html"
    if template == "auth/login.html":
        from .forms import LoginForm

        from flask import flash

        flash(message, "error")
        return render_template(template, form=LoginForm(formdata=None)), code
    return render_template(template, codigo=code, mensaje=message), code


def register(app: Flask) -> None:
    app.jinja_env.filters["num"] = fmt_num
    app.jinja_env.filters["r"] = fmt_r
    app.jinja_env.filters["fecha"] = fecha_larga
    app.jinja_env.filters["grado"] = grade_label
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    @app.context_processor
    def _globals() -> dict[str, Any]:
        return {
            "school_name": app.config["SCHOOL_NAME"],
            "charts_available": app.config["CHARTS_AVAILABLE"],
            "reporte": report_state if current_user.is_authenticated else (lambda: None),
        }

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError):
        return error_response(400, API_CSRF_MESSAGE if is_api_request() else CSRF_MESSAGE, "csrf")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        code = exc.code or 500
        message = None
        if code in (400, 404, 409, 422) and exc.description and getattr(exc, "_caoskol_message", False):
            message = exc.description
        return error_response(code, message)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("error no controlado en %s", request.path)
        return error_response(500)
