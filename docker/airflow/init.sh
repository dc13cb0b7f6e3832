#!/usr/bin/env bash
# airflow-init (docker-compose.airflow.yml): runs once, as root, before every other Airflow
# service, and exits 0. Safe to run again (each step is idempotent).
#
#   1. the shared folders (run data, logs, Airflow state) owned by the airflow user;
#   2. the Airflow UI's admin password (SimpleAuthManager's passwords file) from .env;
#   3. Airflow's metadata database (PostgreSQL): `airflow db migrate`;
#   4. Caoskol's tables in MySQL (`caoskol init-db`, as caoskol_admin: nobody uses root);
#   5. the three Airflow connections resolve (they come from AIRFLOW_CONN_* variables).
set -euo pipefail
say() { printf 'caoskol-airflow-init: %s\n' "$*"; }

: "${AIRFLOW_ADMIN_PASSWORD:?set AIRFLOW_ADMIN_PASSWORD in .env}"
: "${CAOSKOL_ADMIN_DB_PASSWORD:?set CAOSKOL_ADMIN_DB_PASSWORD in .env}"
AIRFLOW_UID="${AIRFLOW_UID:-50000}"
STATE_DIR="$(dirname "${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:?}")"

say "folders"
mkdir -p "${CAOSKOL_DATA_DIR:?}" /opt/airflow/logs "$STATE_DIR"
chown -R "${AIRFLOW_UID}:0" "$CAOSKOL_DATA_DIR" /opt/airflow/logs "$STATE_DIR"
chmod -R g+rwX "$CAOSKOL_DATA_DIR" /opt/airflow/logs

say "Airflow UI password (user admin)"
( umask 077
  python - <<'PY'
import json, os
path = os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]
with open(path, "w", encoding="utf-8") as fh:
    json.dump({"admin": os.environ["AIRFLOW_ADMIN_PASSWORD"]}, fh)
PY
)
chown "${AIRFLOW_UID}:0" "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"

say "Airflow metadata database"
airflow db migrate

say "Caoskol tables (colegio, caoskol_reportes) as caoskol_admin"
CAOSKOL_COLEGIO_URL="$(python - <<'PY'
import os
from urllib.parse import quote
pw = quote(os.environ["CAOSKOL_ADMIN_DB_PASSWORD"], safe="")
host = os.environ.get("CAOSKOL_MYSQL_HOST", "mysql")
print(f"mysql+mysqldb://caoskol_admin:{pw}@{host}:3306/colegio?charset=utf8mb4")
PY
)"
export CAOSKOL_COLEGIO_URL
export CAOSKOL_REPORTES_URL="${CAOSKOL_COLEGIO_URL/\/colegio\?/\/caoskol_reportes?}"
caoskol init-db

say "connections"
python - <<'PY'
from airflow.sdk.bases.hook import BaseHook

for conn_id in ("colegio_mysql", "reportes_mysql", "spark_default"):
    c = BaseHook.get_connection(conn_id)
    print(f"  {conn_id}: {c.conn_type} {c.host}:{c.port or ''} {c.schema or ''} as {c.login or '-'}")
PY
say "done"
