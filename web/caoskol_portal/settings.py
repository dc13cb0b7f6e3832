"""The portal's configuration, read from the environment once, at ``create_app()``.

| variable | meaning | default |
| --- | --- | --- |
| ``CAOSKOL_ENV`` | ``production`` or ``development`` | ``production`` |
| ``CAOSKOL_SECRET_KEY`` | signs session cookies and CSRF tokens | required in production |
| ``CAOSKOL_COLEGIO_URL`` / ``CAOSKOL_REPORTES_URL`` | the two databases (see ``caoskol.db``) | local MariaDB |
| ``CAOSKOL_AIRFLOW_URL`` | the Airflow UI, linked from the admin's pipeline page | ``http://127.0.0.1:8080`` |
| ``CAOSKOL_RATELIMIT_STORAGE_URI`` | Flask-Limiter storage (``redis://...`` for several processes) | ``memory://`` |
| ``CAOSKOL_LOGIN_LIMIT_ACCOUNT`` | failed logins allowed per account | ``5 per 15 minutes`` |
| ``CAOSKOL_LOGIN_LIMIT_CLIENT`` | failed logins allowed per client address | ``20 per 15 minutes`` |
| ``CAOSKOL_TRUST_PROXY`` | ``1`` behind HAProxy: client address and scheme from X-Forwarded-* | ``0`` |
| ``CAOSKOL_COOKIE_SECURE`` | ``auto`` (Secure when the request came over HTTPS), ``1`` or ``0`` | ``auto`` |
| ``CAOSKOL_SESSION_HOURS`` | lifetime of a session from login, enforced by the server (the cookie has no Expires) | ``8`` |
| ``CAOSKOL_SCHOOL_NAME`` | shown on the landing page | ``Colegio Caoskol`` |
| ``CAOSKOL_REPORT_CACHE_SIZE`` | report entries cached per process (keyed by run id) | ``256`` |
| ``CAOSKOL_SESSION_CHECK_TTL`` | seconds a process trusts an account row when checking a session (0 = every request; see security.SessionCheckCache) | ``1`` |
| ``CAOSKOL_REPORT_STATE_TTL`` | seconds a process reuses "which run is current" (0 = every request) | ``1`` |
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from datetime import timedelta
from typing import Any, Mapping

from caoskol import db

log = logging.getLogger(__name__)

ENVIRONMENTS = ("production", "development")


class ConfigError(RuntimeError):
    """The environment does not describe a portal that may start."""


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "si", "sí", "on")


def limit_key_prefix(colegio_url: str) -> str:
    """Failed-login counters belong to the accounts they protect: one prefix per accounts
    database (server, port, name; not the driver or the password), so the replicas of one
    portal share counters on a shared Redis and two portals on other databases never do."""
    from sqlalchemy.engine import make_url

    url = make_url(colegio_url)
    where = f"{url.host or ''}:{url.port or ''}/{url.database or ''}"
    return "caoskol_portal:" + hashlib.sha256(where.encode("utf-8")).hexdigest()[:12]


def from_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    env = os.environ if environ is None else environ
    mode = env.get("CAOSKOL_ENV", "production").strip().lower() or "production"
    if mode not in ENVIRONMENTS:
        raise ConfigError(f"CAOSKOL_ENV={mode!r}: use one of {', '.join(ENVIRONMENTS)}")
    secret = env.get("CAOSKOL_SECRET_KEY", "")
    if not secret:
        if mode == "production":
            raise ConfigError(
                "CAOSKOL_SECRET_KEY is not set: the portal refuses to start in production "
                "without it (it signs session cookies and CSRF tokens). Generate one with "
                "`python -c 'import secrets; print(secrets.token_hex(32))'` and pass it in the "
                "environment (a Swarm secret in the stack), or set CAOSKOL_ENV=development."
            )
        # Development only: a key per process. With several gunicorn workers, sessions then
        # fail across workers, so set CAOSKOL_SECRET_KEY there too.
        secret = secrets.token_hex(32)
        log.warning("CAOSKOL_SECRET_KEY not set: using a random key for this process (development)")
    elif mode == "production" and len(secret) < 16:
        raise ConfigError("CAOSKOL_SECRET_KEY is too short for production (at least 16 characters)")

    cookie_secure = env.get("CAOSKOL_COOKIE_SECURE", "auto").strip().lower() or "auto"
    if cookie_secure not in ("auto", "1", "0", "true", "false"):
        raise ConfigError("CAOSKOL_COOKIE_SECURE must be auto, 1 or 0")

    return {
        "ENV_MODE": mode,
        "SECRET_KEY": secret,
        "COLEGIO_URL": env.get("CAOSKOL_COLEGIO_URL") or db.colegio_url(),
        "REPORTES_URL": env.get("CAOSKOL_REPORTES_URL") or db.reportes_url(),
        "AIRFLOW_URL": (env.get("CAOSKOL_AIRFLOW_URL") or "http://127.0.0.1:8080").rstrip("/"),
        "SCHOOL_NAME": env.get("CAOSKOL_SCHOOL_NAME") or "Colegio Caoskol",
        "TRUST_PROXY": _flag(env.get("CAOSKOL_TRUST_PROXY"), False),
        "COOKIE_SECURE": cookie_secure,
        "REPORT_CACHE_SIZE": int(env.get("CAOSKOL_REPORT_CACHE_SIZE", "256")),
        "REPORT_STATE_TTL": float(env.get("CAOSKOL_REPORT_STATE_TTL", "1")),
        "SESSION_CHECK_TTL": float(env.get("CAOSKOL_SESSION_CHECK_TTL", "1")),
        # Flask / extensions
        "SESSION_COOKIE_NAME": "caoskol_sesion",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Absolute lifetime from login (security.PortalSessionInterface); not re-signed and
        # re-sent on every response. The cookie itself is a browser-session cookie (no
        # Expires): Flask applies this lifetime to non-permanent sessions' signatures too.
        "SESSION_REFRESH_EACH_REQUEST": False,
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=float(env.get("CAOSKOL_SESSION_HOURS", "8"))),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
        "WTF_CSRF_SSL_STRICT": True,
        "RATELIMIT_STORAGE_URI": env.get("CAOSKOL_RATELIMIT_STORAGE_URI") or "memory://",
        "RATELIMIT_HEADERS_ENABLED": False,
        "RATELIMIT_KEY_PREFIX": env.get("CAOSKOL_RATELIMIT_PREFIX")
        or limit_key_prefix(env.get("CAOSKOL_COLEGIO_URL") or db.colegio_url()),
        "LOGIN_LIMIT_ACCOUNT": env.get("CAOSKOL_LOGIN_LIMIT_ACCOUNT") or "5 per 15 minutes",
        "LOGIN_LIMIT_CLIENT": env.get("CAOSKOL_LOGIN_LIMIT_CLIENT") or "20 per 15 minutes",
        "JSON_SORT_KEYS": False,
        "MAX_CONTENT_LENGTH": 1 * 1024 * 1024,
    }
