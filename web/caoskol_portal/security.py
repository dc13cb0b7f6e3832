"""Who may see what, sessions, and the security headers of every response.

Every view declares its access with ``@publico`` or ``@roles(...)``; a view without a
declaration is refused (403) for everyone, so a new route cannot be left open by mistake.
The check runs in one ``before_request`` hook, not in each view.

Sessions are Flask's signed cookies. The cookie carries the account id and the account's
``sesion_version``; logout, a password change or reset and disabling the account increment
that number in the database, so any copy of an older cookie stops working (server-side
logout). At login the session is cleared and gets a new random identifier (rotation).
The cookie has no Expires (it ends with the browser); the server ends the session
``CAOSKOL_SESSION_HOURS`` after login.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from typing import Any, Callable

from flask import Flask, current_app, flash, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_login import UserMixin, current_user, login_user, logout_user
from werkzeug.exceptions import Forbidden

from .extensions import login_manager
from .json_errors import json_error

HOME_BY_ROLE = {
    "estudiante": "estudiante.inicio",
    "profesor": "profesor.inicio",
    "administrador": "admin.inicio",
}
# Endpoints a user who must change their password may still reach.
ALLOWED_BEFORE_PASSWORD_CHANGE = {
    "auth.cambiar_clave",
    "auth.logout",
    "auth.landing",
    "api.sesion",
    "api.cerrar_sesion",
    "api.iniciar_sesion",
    "api.cambiar_clave",
}

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# Data Docs are HTML written by another tool: served sandboxed (no script, no same-origin).
CSP_SANDBOX = "sandbox; default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'"


# --- access declarations --------------------------------------------------------------


def publico(view: Callable) -> Callable:
    view._acceso = "publico"  # type: ignore[attr-defined]
    return view


def roles(*allowed: str) -> Callable[[Callable], Callable]:
    def deco(view: Callable) -> Callable:
        view._acceso = frozenset(allowed)  # type: ignore[attr-defined]
        return view

    return deco


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def check_access() -> Any:
    """before_request: enforce the view's declared access."""
    if request.endpoint is None:
        return None  # 404 / 405 follow
    if request.endpoint == "static":
        return None
    view = current_app.view_functions.get(request.endpoint)
    policy = getattr(view, "_acceso", None)
    if policy is None:
        current_app.logger.error("route %s declares no access policy: refused", request.endpoint)
        raise Forbidden()
    if policy == "publico":
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if current_user.debe_cambiar_clave and request.endpoint not in ALLOWED_BEFORE_PASSWORD_CHANGE:
        if is_api_request():
            return json_error(403, "debe_cambiar_clave", "Debe cambiar su clave antes de continuar.")
        return redirect(url_for("auth.cambiar_clave"))
    if current_user.rol not in policy:
        raise Forbidden()
    return None


# --- users and sessions ----------------------------------------------------------------


class PortalUser(UserMixin):
    def __init__(self, row: dict[str, Any]) -> None:
        self.id = int(row["id"])
        self.nombre = row["nombre"]
        self.rol = row["rol"]
        self.debe_cambiar_clave = bool(row["debe_cambiar_clave"])
        self.sesion_version = int(row.get("sesion_version") or 0)
        self._activo = bool(row.get("activo", True))

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self._activo

    def get_id(self) -> str:
        return f"{self.id}:{self.sesion_version}"

    @property
    def inicio(self) -> str:
        return HOME_BY_ROLE[self.rol]

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "nombre": self.nombre, "rol": self.rol, "debe_cambiar_clave": self.debe_cambiar_clave}


class SessionCheckCache:
    """Per-process memory of account rows used to validate sessions, for ``ttl`` seconds.

    ``ttl = 0`` asks the database on every request. With ``ttl > 0`` a process re-reads an
    account at most every ``ttl`` seconds; any change this process makes to the account
    (logout, password, disable, delete) forgets it at once, so in this process the old
    cookie stops working immediately, and in other processes within ``ttl`` seconds.
    """

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._rows: dict[int, tuple[float, dict[str, Any] | None]] = {}
        self._lock = threading.Lock()
        # Bumped by every forget(): a row read before a forget (a request racing a logout
        # in another thread) must not be stored after it, or the old cookie would live on.
        self._generation = 0

    def get(self, uid: int, load: Callable[[int], dict[str, Any] | None],
            version: int | None = None) -> dict[str, Any] | None:
        """The account row for ``uid``. ``version`` is the cookie's session version: a
        cookie newer than the remembered row (a login or password change handled by
        another process) re-reads the row instead of being refused for up to ``ttl``."""
        if self.ttl <= 0:
            return load(uid)
        now = time.monotonic()
        held = self._rows.get(uid)
        if held is not None and now - held[0] < self.ttl and not self._older_than(held[1], version):
            return held[1]
        generation = self._generation
        row = load(uid)
        with self._lock:
            if generation == self._generation:
                if len(self._rows) > 10000:
                    self._rows.clear()
                self._rows[uid] = (now, row)
        return row

    @staticmethod
    def _older_than(row: dict[str, Any] | None, version: int | None) -> bool:
        return version is not None and row is not None and row["sesion_version"] < version

    def forget(self, uid: int) -> None:
        with self._lock:
            self._generation += 1
            self._rows.pop(uid, None)


@login_manager.user_loader
def load_user(session_user_id: str) -> PortalUser | None:
    try:
        uid_text, version_text = session_user_id.split(":", 1)
        uid, version = int(uid_text), int(version_text)
    except (ValueError, AttributeError):
        return None
    store = current_app.extensions["caoskol_store"]
    row = current_app.extensions["caoskol_session_cache"].get(uid, store.user_for_session, version)
    if row is None or not row["activo"]:
        return None
    if not hmac.compare_digest(str(row["sesion_version"]), str(version)):
        return None  # logged out elsewhere, password changed, or account disabled
    return PortalUser(row)


@login_manager.unauthorized_handler
def unauthorized() -> Any:
    if is_api_request():
        return json_error(401, "no_autenticado", "Inicie sesión para continuar.")
    flash("Inicie sesión para continuar.", "aviso")
    return redirect(url_for("auth.landing"))


def start_session(row: dict[str, Any]) -> PortalUser:
    """Log a checked account in: a fresh session with a new identifier."""
    session.clear()
    user = PortalUser(row)
    login_user(user)
    # Not permanent: a browser-session cookie (no Expires), gone when a shared computer's
    # browser closes. The server ends it after the lifetime anyway (PortalSessionInterface).
    session["sid"] = secrets.token_urlsafe(18)
    session["desde"] = int(time.time())
    return user


def end_session() -> None:
    """Server-side logout: every session of the account ends, this cookie is emptied."""
    if current_user.is_authenticated:
        current_app.extensions["caoskol_store"].end_sessions(current_user.id)
    logout_user()
    session.clear()


class PortalSessionInterface(SecureCookieSessionInterface):
    """Signed-cookie sessions whose cookie is Secure whenever the request came over HTTPS,
    and that end ``PERMANENT_SESSION_LIFETIME`` after login.

    Flask refuses a cookie signed longer ago than that lifetime, but every write of the
    session (a message, a new CSRF token) signs it anew; so the login time (``desde``) is
    checked too, and a session never outlives its login by more than the lifetime.
    """

    def open_session(self, app: Flask, request):
        opened = super().open_session(app, request)
        desde = opened.get("desde") if opened is not None else None
        if isinstance(desde, int) and int(time.time()) - desde > int(app.permanent_session_lifetime.total_seconds()):
            return self.session_class()  # as if no cookie had come
        return opened

    def get_cookie_secure(self, app: Flask) -> bool:
        mode = app.config.get("COOKIE_SECURE", "auto")
        if mode in ("1", "true"):
            return True
        if mode in ("0", "false"):
            return False
        try:
            return request.is_secure
        except RuntimeError:  # outside a request
            return False


# --- headers ----------------------------------------------------------------------------


def security_headers(response):
    headers = response.headers
    if getattr(g, "data_docs", False):
        headers["Content-Security-Policy"] = CSP_SANDBOX
    else:
        headers.setdefault("Content-Security-Policy", CSP)
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    headers["Referrer-Policy"] = "same-origin"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Cross-Origin-Resource-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
    if request.is_secure:
        headers["Strict-Transport-Security"] = "max-age=31536000"
    if request.endpoint != "static":
        # Pages and API answers are personal: never stored by a shared cache or the browser.
        headers.setdefault("Cache-Control", "no-store")
    return response


def redirect_home():
    return redirect(url_for(current_user.inicio))

