"""The one shape of every JSON error the portal sends: ``{error, mensaje, estado}``
(docs/API.md). Flask only, no portal imports, so the session and security hooks can use it
as well as the API and the error handlers."""

from __future__ import annotations

from flask import jsonify


def json_error(status: int, code: str, message: str):
    return jsonify(error=code, mensaje=message, estado=status), status
