"""A student's own results: their row only, each subject next to their grade's average."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template
from flask_login import current_user

from .security import roles
from .views import report_state, reports

bp = Blueprint("estudiante", __name__, url_prefix="/estudiante")


@bp.get("/")
@roles("estudiante")
def inicio():
    # The student's own ID comes from the session, never from the URL.
    student = current_app.extensions["caoskol_store"].student(current_user.id)
    state = report_state()
    vista = reports().student_view(state, student) if student else None
    return render_template("estudiante/inicio.html", vista=vista, state=state)
