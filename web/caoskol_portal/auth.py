"""Login (the landing page), logout and the forced password change."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_user
from werkzeug.security import check_password_hash, generate_password_hash

from caoskol import config as caoskol_config
from caoskol import schema

from .extensions import limiter
from .forms import ChangePasswordForm, LoginForm, check_new_password
from .security import publico, redirect_home, roles, end_session, start_session

bp = Blueprint("auth", __name__)
log = logging.getLogger("caoskol_portal.auth")

LOGIN_FAILED = "ID o clave incorrectos."
MAX_ID = schema.MAX_ID


def parse_user_id(text: Any) -> int | None:
    if isinstance(text, bool):
        return None
    if isinstance(text, int):
        return text if 0 < text <= MAX_ID else None
    if not isinstance(text, str):
        return None
    text = text.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 10:
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None


def authenticate(user_text: Any, password: Any) -> dict[str, Any] | None:
    """The account row if the ID exists, is active and the password matches; else None.

    Unknown IDs and disabled accounts still pay for one hash check, so the answer takes
    about as long whichever way it fails.
    """
    password = password if isinstance(password, str) else ""
    uid = parse_user_id(user_text)
    row = current_app.extensions["caoskol_store"].user_for_login(uid) if uid is not None else None
    if row is None or not row["activo"]:
        check_password_hash(current_app.extensions["caoskol_dummy_hash"], password)
        return None
    if not check_password_hash(row["clave_hash"], password):
        return None
    return row


def _key(kind: str, value: str) -> str:
    # The app's own prefix in the key: Flask-Limiter keeps the prefix of the first app it was
    # bound to, and apps (tests, several portals on one Redis) must not share counters.
    return f"{current_app.config['RATELIMIT_KEY_PREFIX']}:{kind}:{value}"


def login_account_key() -> str:
    """Rate-limit key per account: the account the ID names (form or JSON body).

    The key is the parsed ID, the one login would check, not the text as typed: "8",
    "08" and " 0008" are one account and must draw on one counter. Text that names no
    account shares one bucket; it can never log in, and the per-client limit covers it.
    """
    value: Any = request.form.get("id")
    if value is None:
        body = request.get_json(silent=True)
        value = body.get("id") if isinstance(body, dict) else None
    uid = parse_user_id(value)
    return _key("cuenta", str(uid) if uid is not None else "sin-cuenta")


def login_client_key() -> str:
    """Rate-limit key per client address (the proxy's X-Forwarded-For with TRUST_PROXY)."""
    return _key("cliente", request.remote_addr or "desconocido")


def failed_login(response) -> bool:
    return response.status_code == 401


def login_limits(view):
    """Failed logins limited per account and per client address (only failures count).

    Shared limits: the form (/login) and the JSON API (/api/v1/sesion) draw on the same
    counters, so switching door does not reset them.
    """
    view = limiter.shared_limit(
        lambda: current_app.config["LOGIN_LIMIT_ACCOUNT"],
        scope="login-cuenta",
        key_func=login_account_key,
        methods=["POST"],
        deduct_when=failed_login,
    )(view)
    view = limiter.shared_limit(
        lambda: current_app.config["LOGIN_LIMIT_CLIENT"],
        scope="login-cliente",
        key_func=login_client_key,
        methods=["POST"],
        deduct_when=failed_login,
    )(view)
    return view


def note_failed_login(user_text: Any) -> None:
    g.login_fallido = True
    shown = str(user_text)[:20] if user_text is not None else ""
    log.warning("login fallido", extra={"evento": "login_fallido", "id_intentado": shown})


@bp.get("/")
@publico
def landing():
    if current_user.is_authenticated:
        if current_user.debe_cambiar_clave:
            return redirect(url_for("auth.cambiar_clave"))
        return redirect_home()
    return render_template("auth/login.html", form=LoginForm())


@bp.get("/login")
@publico
def login_page():
    return redirect(url_for("auth.landing"))


@bp.post("/login")
@publico
@login_limits
def login():
    form = LoginForm()
    row = authenticate(form.id.data, form.clave.data) if form.validate_on_submit() else None
    if row is None:
        note_failed_login(form.id.data)
        flash(LOGIN_FAILED, "error")
        return render_template("auth/login.html", form=LoginForm(formdata=None, id=form.id.data)), 401
    user = start_session(row)
    log.info("login", extra={"evento": "login", "usuario": user.id, "rol": user.rol})
    if user.debe_cambiar_clave:
        return redirect(url_for("auth.cambiar_clave"))
    return redirect_home()


@bp.post("/logout")
@roles("estudiante", "profesor", "administrador")
def logout():
    end_session()
    flash("Sesión cerrada.", "info")
    return redirect(url_for("auth.landing"))


def change_password(user_id: int, actual: str, nueva: str) -> str | None:
    """Check and store a new password; the reason for refusing it, or None when done."""
    store = current_app.extensions["caoskol_store"]
    row = store.user_for_login(user_id)
    if row is None or not check_password_hash(row["clave_hash"], actual or ""):
        return "La clave actual no es correcta."
    problem = check_new_password(nueva, user_id, actual)
    if problem:
        return problem
    store.set_password(user_id, generate_password_hash(nueva, method=caoskol_config.password_hash_method()), False)
    # The update ended every session of the account; this one continues with a new one.
    start_session(store.user_for_login(user_id))
    return None


@bp.route("/cambiar-clave", methods=["GET", "POST"])
@roles("estudiante", "profesor", "administrador")
def cambiar_clave():
    form = ChangePasswordForm()
    status = 200
    if form.validate_on_submit():
        problem = change_password(current_user.id, form.actual.data, form.nueva.data)
        if problem is None:
            flash("Clave cambiada.", "info")
            return redirect_home()
        form.nueva.errors = list(form.nueva.errors) + [problem]
        status = 400
    elif request.method == "POST":
        status = 400
    return render_template("auth/cambiar_clave.html", form=form), status


__all__ = ["bp", "authenticate", "login_limits", "parse_user_id", "change_password", "login_user"]
