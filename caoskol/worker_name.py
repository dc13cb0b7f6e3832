"""The host name Airflow records for a task instance (``[core] hostname_callable``).

Several Celery workers on one machine would all record the machine's name; a rehearsal
names each worker (``CAOSKOL_WORKER_NAME``) so the task instances say which one ran them.
Without the variable this is Airflow's default, the machine's fully qualified name.
"""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    return os.environ.get("CAOSKOL_WORKER_NAME") or socket.getfqdn()
