"""Health checks for HAProxy and Swarm: /healthz (process up), /readyz (databases reachable)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from .security import publico

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@publico
def healthz():
    return jsonify(estado="ok")


@bp.get("/readyz")
@publico
def readyz():
    checks = current_app.extensions["caoskol_store"].ping()
    ok = all(v == "ok" for v in checks.values())
    return jsonify(estado="listo" if ok else "no_listo", bases=checks), (200 if ok else 503)
