#!/usr/bin/env bash
# Set up Caoskol on this machine and run the nightly job once, end to end:
# install, create the databases, load the demo school (or the school's own files), start
# Airflow (UI on http://localhost:8080) and the portal, trigger the nightly DAG, wait for
# it and print a summary.
#   CAOSKOL_SCHOOL_FILES=DIR  load DIR/US_Dataset.csv and DIR/US_Dataset_users.csv instead
#                             of the generated demo school (e.g. ../shared/seed-data)
#   CAOSKOL_DEMO_STUDENTS=N   size of the generated demo school (default 400)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/install.sh
# shellcheck source=scripts/env.sh
source scripts/env.sh
say() { printf '\n==> %s\n' "$*"; }

say "databases (colegio, caoskol_reportes)"
caoskol init-db

DEMO="$CAOSKOL_VAR/demo"; mkdir -p "$DEMO"; chmod 700 "$DEMO"
if [ -n "${CAOSKOL_SCHOOL_FILES:-}" ]; then
  say "loading the school's files from $CAOSKOL_SCHOOL_FILES"
  caoskol load "$CAOSKOL_SCHOOL_FILES/US_Dataset.csv" "$CAOSKOL_SCHOOL_FILES/US_Dataset_users.csv" || true
elif [ ! -f "$DEMO/usuarios.csv" ]; then
  say "generating and loading the demo school (${CAOSKOL_DEMO_STUDENTS:-400} students)"
  caoskol generate --students "${CAOSKOL_DEMO_STUDENTS:-400}" --seed 2026 --users --out "$DEMO"
  # The demo data carries the real defects on purpose: the loader reports what it refuses.
  caoskol load "$DEMO/notas.csv" "$DEMO/usuarios.csv" || true
fi

# Airflow's UI login: a random password kept in var/ (mode 0600), never in the repository.
if [ ! -f "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE" ]; then
  umask 077
  python - <<PY
import json, secrets
json.dump({"admin": secrets.token_urlsafe(12)}, open("$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", "w"))
PY
fi

say "Airflow metadata database"
airflow db migrate >"$CAOSKOL_VAR/log-migrate.txt" 2>&1 || { cat "$CAOSKOL_VAR/log-migrate.txt"; exit 1; }

say "starting Airflow and the portal"
bash scripts/services.sh start all

RUN_ID="manual__demo_$(date -u +%Y%m%dT%H%M%S)"
state=$(bash scripts/trigger_run.sh "$RUN_ID")

caoskol summary --airflow-url "$CAOSKOL_AIRFLOW_URL" --portal-url "http://127.0.0.1:${CAOSKOL_PORTAL_PORT:-8000}" \
  --credentials "$DEMO/usuarios.csv" --airflow-passwords "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"
if [ "$state" != "success" ]; then
  echo "The DAG run ended in state '$state': see the Airflow UI or $CAOSKOL_VAR/airflow/logs" >&2
  exit 1
fi
echo "Stop everything with: bash scripts/services.sh stop"
