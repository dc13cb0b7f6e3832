"""gunicorn settings of the portal image (and of the Swarm rehearsal, which uses this file).

Every value can be changed from the stack file's environment without rebuilding:

| variable | default | meaning |
| --- | --- | --- |
| ``CAOSKOL_PORTAL_BIND`` | ``0.0.0.0:8000`` | address HAProxy's health checks and requests reach |
| ``GUNICORN_WORKERS`` | ``2`` | processes per replica (a replica is one container) |
| ``GUNICORN_THREADS`` | ``4`` | threads per process (gthread): requests mostly wait on MySQL |
| ``GUNICORN_TIMEOUT`` | ``30`` | a worker silent this long is restarted |
| ``GUNICORN_GRACEFUL_TIMEOUT`` | ``20`` | on SIGTERM, time given to requests in flight (the stacks' ``stop_grace_period`` is longer) |
| ``GUNICORN_PRELOAD`` | ``1`` | build the app once in the master, then fork the workers |

Preloading halves a replica's start on a busy host (measured by the rehearsal: a replacement
replica is up sooner during a rolling update). It is safe here because ``create_app()``
opens no database connection; ``post_fork`` still disposes any SQLAlchemy engine's pooled
connections in each worker, so a future change that connects early cannot share a socket
between processes.

The portal writes its own JSON access log (caoskol_portal.logs), so gunicorn's is off.
"""

import os

bind = [os.environ.get("CAOSKOL_PORTAL_BIND", "0.0.0.0:8000")]
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
# Longer than HAProxy keeps an idle server connection before reusing it, so HAProxy never
# sends a request on a connection gunicorn is closing at the same moment.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "15"))
backlog = 2048
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
# Heartbeat files in memory, not on the container's (overlay) disk.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
proc_name = "caoskol-portal"
preload_app = os.environ.get("GUNICORN_PRELOAD", "1").strip().lower() in ("1", "true", "yes")


def post_fork(server, worker):  # noqa: ARG001 - gunicorn's hook signature
    import gc

    try:
        from sqlalchemy.engine import Engine
    except ImportError:
        return
    for obj in gc.get_objects():
        if isinstance(obj, Engine):
            obj.dispose(close=False)  # forget the parent's pooled connections, never close them
