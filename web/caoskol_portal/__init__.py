"""Caoskol's school results portal: a Flask application factory.

    gunicorn 'caoskol_portal:create_app()'

Configuration comes from the environment (see ``settings.py``); ``create_app(overrides)``
lets tests replace any key.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping

from datetime import date, datetime

from flask import Flask
from flask.json.provider import DefaultJSONProvider
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.security import generate_password_hash

from caoskol import config as caoskol_config

from . import settings
from .extensions import check_limits_on_writes_only, csrf, limiter, login_manager
from .logs import setup_logging
from .queries import Store
from .reports import ReportCache, Reports
from .security import PortalSessionInterface, SessionCheckCache, check_access, security_headers

__all__ = ["create_app", "ConfigError"]

ConfigError = settings.ConfigError
STATIC_DIR = Path(__file__).parent / "static"
CHART_JS = STATIC_DIR / "vendor" / "chart.umd.min.js"

log = logging.getLogger("caoskol_portal")


class JSONProvider(DefaultJSONProvider):
    """ISO 8601 dates in every JSON answer; keys kept in the order the code wrote them."""

    sort_keys = False
    ensure_ascii = False

    @staticmethod
    def default(o: Any) -> Any:
        if isinstance(o, (datetime, date)):
            return o.isoformat()
        return DefaultJSONProvider.default(o)


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.json = JSONProvider(app)
    app.config.update(settings.from_env())
    if overrides:
        app.config.update(overrides)

    setup_logging(app)
    if app.config["TRUST_PROXY"]:
        # Behind HAProxy: client address and scheme from one proxy hop.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    app.session_interface = PortalSessionInterface()

    store = app.config.get("STORE") or Store.from_urls(app.config["COLEGIO_URL"], app.config["REPORTES_URL"])
    cache = ReportCache(app.config["REPORT_CACHE_SIZE"])
    app.extensions["caoskol_store"] = store
    app.extensions["caoskol_reports"] = Reports(store, cache, app.config["REPORT_STATE_TTL"])
    sessions = SessionCheckCache(app.config["SESSION_CHECK_TTL"])
    app.extensions["caoskol_session_cache"] = sessions
    store.account_changed.append(sessions.forget)
    # Compared against when the ID is unknown, so failures take the same time.
    app.extensions["caoskol_dummy_hash"] = generate_password_hash(
        "caoskol-no-such-account", method=caoskol_config.password_hash_method()
    )
    app.config["CHARTS_AVAILABLE"] = CHART_JS.exists()
    if not app.config["CHARTS_AVAILABLE"]:
        log.warning("Chart.js is missing (%s): run `npm ci && npm run build` in web/; pages show tables only", CHART_JS)

    login_manager.init_app(app)
    login_manager.session_protection = "basic"
    csrf.init_app(app)
    limiter.init_app(app)
    check_limits_on_writes_only(app)

    from . import admin, api, auth, estudiante, health, profesor, views

    # Before any route is added: every <int:...> of a URL is a bounded ID (views.IdConverter).
    app.url_map.converters["int"] = views.IdConverter
    app.register_blueprint(health.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(estudiante.bp)
    app.register_blueprint(profesor.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(api.bp)
    csrf.exempt(health.bp)

    app.before_request(check_access)
    app.after_request(security_headers)
    views.register(app)
    return app
