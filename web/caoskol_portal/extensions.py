"""Flask extensions, created once and bound to the app in ``create_app()``."""

from __future__ import annotations

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

login_manager = LoginManager()
csrf = CSRFProtect()
# No default limits: only failed logins are limited (see auth.py). Storage from
# RATELIMIT_STORAGE_URI (memory:// for one process, redis:// when several share the counts).
limiter = Limiter(key_func=get_remote_address, default_limits=[])


@limiter.request_filter
def _only_writes_are_limited() -> bool:
    """Every limit is on POST (login), so reads skip Flask-Limiter's per-request work
    (resolving limits for the endpoint: about a fifth of a page's cost, measured)."""
    from flask import request

    return request.method in ("GET", "HEAD", "OPTIONS")
