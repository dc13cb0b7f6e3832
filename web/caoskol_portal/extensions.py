"""Flask extensions, created once and bound to the app in ``create_app()``."""

from __future__ import annotations

import functools

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

login_manager = LoginManager()
csrf = CSRFProtect()
# No default limits: only failed logins are limited (see auth.py). Storage from
# RATELIMIT_STORAGE_URI (memory:// for one process, redis:// when several share the counts).
limiter = Limiter(key_func=get_remote_address, default_limits=[])


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def check_limits_on_writes_only(app: Flask) -> None:
    """Run Flask-Limiter's per-request check for writes only.

    That ``before_request`` check resolves, for every request, the limits that apply to the
    whole app (default, application and meta limits): about a quarter of a trivial
    request's CPU time (measured: 0.40 -> 0.31 ms for /healthz, 0.59 -> 0.49 ms for the
    cached dashboard). The portal has none of those: its only limits are the failed-login
    ones, declared with decorators on POST views (``auth.login_limits``), and a decorated
    limit is checked by its decorator, not by this hook. An app-wide limit added later
    would apply to writes only, so ``tests/portal/test_auth.py`` checks that there is none.
    """
    hooks = app.before_request_funcs.setdefault(None, [])
    check = limiter._check_request_limit
    position = hooks.index(check)

    @functools.wraps(check)
    def check_writes() -> None:
        if request.method not in READ_METHODS:
            check()

    hooks[position] = check_writes
