"""Structured (JSON lines) logs: one access record per request, plus the app's own events.

An access record holds method, path, status, duration, size, client address, user id and
role, and a request id. It never holds the query string, form fields, cookies or headers,
so no password, CSRF token or session cookie can reach the logs.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import uuid
from datetime import datetime, timezone

from flask import Flask, g, request
from flask_login import current_user

ACCESS_LOGGER = "caoskol_portal.access"
_STANDARD = set(vars(logging.LogRecord("x", 0, "x", 0, "", None, None))) | {"message", "asctime", "taskName"}
# Keys that must never be written, whatever a caller passes as `extra`.
_FORBIDDEN = {"clave", "password", "cookie", "csrf_token", "session", "sesion", "authorization"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "ts": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(timespec="milliseconds"),
            "nivel": record.levelname,
            "logger": record.name,
            "mensaje": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in data and key.lower() not in _FORBIDDEN:
                data[key] = value
        if record.exc_info:
            data["excepcion"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


class StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (gunicorn and pytest replace it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def setup_logging(app: Flask) -> None:
    logger = logging.getLogger("caoskol_portal")
    if not any(getattr(h, "_caoskol", False) for h in logger.handlers):
        handler = StderrHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        handler._caoskol = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    access = logging.getLogger(ACCESS_LOGGER)
    access.disabled = not app.config.get("ACCESS_LOG", True)

    @app.before_request
    def _start_timer() -> None:
        g.t0 = time.perf_counter()
        given = "".join(c for c in request.headers.get("X-Request-Id", "")[:64] if c.isalnum() or c in "-_.")
        g.request_id = given or uuid.uuid4().hex[:16]

    @app.after_request
    def _access_log(response):
        access_log = logging.getLogger(ACCESS_LOGGER)
        if access_log.disabled:
            return response
        user = None
        rol = None
        # Only the user this request already loaded: asking `current_user` here would load
        # (and check against the database) the session of every public request too.
        loaded = g.get("_login_user")
        if loaded is None and response.status_code >= 400:
            # Refused before any view loaded the user (CSRF failure, 405, 404): who sent a
            # refused state-changing call is what an audit needs. Checked like any
            # request's session; a failing check (database down) leaves the user unknown.
            try:
                loaded = current_user._get_current_object()
            except Exception:  # noqa: BLE001 - the log line must still be written
                loaded = None
        if loaded is not None and loaded.is_authenticated:
            user, rol = loaded.id, loaded.rol
        access_log.info(
            "acceso",
            extra={
                "evento": "acceso",
                "request_id": getattr(g, "request_id", None),
                "metodo": request.method,
                "ruta": request.path,
                "endpoint": request.endpoint,
                "estado": response.status_code,
                "ms": round((time.perf_counter() - getattr(g, "t0", time.perf_counter())) * 1000, 2),
                "bytes": response.calculate_content_length(),
                "ip": request.remote_addr,
                "usuario": user,
                "rol": rol,
            },
        )
        response.headers["X-Request-Id"] = getattr(g, "request_id", "")
        return response
