"""Callbacks of the nightly DAG: per task (set in its default_args) and per run.

The task callbacks time each task into the run folder and, when a task has failed for
good, log a summary a data engineer can act on, record the failure in `ejecuciones` (the
previous report stays current) and send mail if an SMTP connection is configured. The run
callback closes a run that failed without any task saying so (timed out by the scheduler,
marked failed in the UI where Airflow calls it), so the portal never shows it as running.
"""

from __future__ import annotations

import logging
import os

from caoskol import config

log = logging.getLogger("caoskol.alertas")


def on_task_start(context) -> None:
    from caoskol import runs

    runs.record_task_start(config.run_dir(context["run_id"]), context["ti"].task_id)


def on_task_success(context) -> None:
    from caoskol import runs

    runs.record_task_end(config.run_dir(context["run_id"]), context["ti"].task_id)


def failure_summary(context) -> str:
    ti = context["ti"]
    exc = context.get("exception")
    # Without an exception the task never ran its code (e.g. the worker could not reach
    # Airflow's API, or it was killed): say so instead of "None".
    cause = (
        f"{type(exc).__name__}: {exc}"
        if exc
        else "la tarea no llegó a ejecutarse o fue interrumpida (vea el registro de la tarea en Airflow)"
    )
    return (
        f"Caoskol: la tarea '{ti.task_id}' de la ejecución {context['run_id']} falló "
        f"(intento {getattr(ti, 'try_number', '?')}): {cause}. "
        "No se publicó nada de esta ejecución; el reporte anterior sigue vigente."
    )


def on_task_failure(context) -> None:
    summary = failure_summary(context)
    log.error(summary)
    try:
        from caoskol import steps

        steps.mark_failed(context["run_id"], steps.report_date(context["dag_run"]), summary, steps.Connections.from_airflow())
    except Exception:  # the alert must still go out if the reporting DB is what failed
        log.exception("no se pudo registrar la falla en la tabla ejecuciones")
    _send_mail(summary)


def run_failure_summary(context) -> str:
    reason = context.get("reason") or "marcada como fallida en Airflow"
    return (
        f"Caoskol: la ejecución {context['run_id']} terminó como fallida ({reason}) sin que una tarea "
        "registrara la causa. No se publicó nada de esta ejecución; el reporte anterior sigue vigente."
    )


def on_run_failure(context) -> None:
    """A failed run's record, unless a task already wrote its own (that message is kept)."""
    summary = run_failure_summary(context)
    try:
        from caoskol import steps

        closed = steps.close_run_if_running(context["run_id"], summary, steps.Connections.from_airflow())
    except Exception:
        log.exception("no se pudo registrar la falla en la tabla ejecuciones")
        return
    if closed:  # the listener and the DAG callback may both call this: one alert
        log.error(summary)
        _send_mail(summary)


def _send_mail(summary: str) -> None:
    recipients = os.environ.get("CAOSKOL_ALERT_EMAIL")
    if not recipients:
        return
    try:
        from airflow.providers.smtp.hooks.smtp import SmtpHook

        with SmtpHook(smtp_conn_id=os.environ.get("CAOSKOL_SMTP_CONN_ID", "smtp_default")) as smtp:
            smtp.send_email_smtp(
                to=[r.strip() for r in recipients.split(",") if r.strip()],
                subject="Caoskol: falló la ejecución nocturna",
                html_content=f"<p>{summary}</p>",
            )
    except Exception:
        log.exception("no se pudo enviar el correo de alerta (¿conexión SMTP configurada?)")
