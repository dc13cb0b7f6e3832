#!/usr/bin/env bash
# Rehearse the nightly DAG on Airflow's CeleryExecutor on this one machine, with the real
# parts a multi-machine deployment has (docs/SCALING.md, "Airflow CeleryExecutor"):
#   * metadata database on PostgreSQL (127.0.0.1:5432), Celery broker on Redis (db 6),
#     Celery results in PostgreSQL;
#   * api-server (port 8091), scheduler and dag-processor as for LocalExecutor;
#   * two Celery workers of one slot each, named caoskol-w1 and caoskol-w2 (the name each
#     task instance records, via caoskol.worker_name), each with its own log server port;
#   * the same DAG file, the same Spark connection, its own data folder and its own MySQL
#     databases (caoskol_celery_colegio / caoskol_celery_reportes: nothing of the main
#     install is touched), a generated school of CAOSKOL_DEMO_STUDENTS (default 400).
# It prints which worker ran each task, when, and whether the two Spark tasks overlapped,
# then stops everything it started. Needs ~1 GiB of disk for its own .venv (var/celery).
#   bash scripts/rehearse_celery.sh           # ~4 min after the first install
#   KEEP=1 bash scripts/rehearse_celery.sh    # leave the services running (UI on :8091)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
say() { printf '\n==> %s\n' "$*"; }

CEL="$ROOT/var/celery"
mkdir -p "$CEL"
PG_DB=caoskol_celery_airflow
PG_URL="postgresql+psycopg2://postgres@127.0.0.1:5432/$PG_DB"
PORT=8091

# Everything below runs in the rehearsal's environment: env.sh keeps what is already set.
export VIRTUAL_ENV="$CEL/venv"
export CAOSKOL_DATA_DIR="$CEL/data"
export AIRFLOW_HOME="$CEL/airflow"
export CAOSKOL_COLEGIO_DB=caoskol_celery_colegio CAOSKOL_REPORTES_DB=caoskol_celery_reportes
export AIRFLOW__CORE__EXECUTOR=CeleryExecutor
export AIRFLOW__CORE__HOSTNAME_CALLABLE=caoskol.worker_name.hostname
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="$PG_URL"
export AIRFLOW__CELERY__BROKER_URL="redis://127.0.0.1:6379/6"
export AIRFLOW__CELERY__RESULT_BACKEND="db+postgresql+psycopg2://postgres@127.0.0.1:5432/$PG_DB"
export AIRFLOW__CELERY__WORKER_CONCURRENCY=1
export AIRFLOW__API__PORT=$PORT
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://localhost:$PORT/execution/"
# shellcheck source=scripts/env.sh
source scripts/env.sh

if [ ! -x "$VIRTUAL_ENV/bin/airflow" ] || [ requirements.lock -nt "$VIRTUAL_ENV/.caoskol-celery" ] \
   || [ requirements-celery.txt -nt "$VIRTUAL_ENV/.caoskol-celery" ]; then
  say "installing requirements.lock + requirements-celery.txt into $VIRTUAL_ENV"
  [ -x .venv/bin/uv ] || bash scripts/install.sh
  .venv/bin/uv venv -q --allow-existing -p .venv/bin/python "$VIRTUAL_ENV"
  # The lock without its redis pin: requirements-celery.txt says why.
  grep -v '^redis==' requirements.lock > "$CEL/requirements.lock-for-celery"
  .venv/bin/uv pip install -q --compile-bytecode -p "$VIRTUAL_ENV/bin/python" \
    -r "$CEL/requirements.lock-for-celery" -r requirements-celery.txt
  .venv/bin/uv pip install -q -p "$VIRTUAL_ENV/bin/python" --no-deps -e .
  touch "$VIRTUAL_ENV/.caoskol-celery"
fi
# The class-data archive is tied to the jars it was dumped from: this .venv's own.
export CAOSKOL_SPARK_CLASS_ARCHIVE="$CEL/driver-classes.jsa"
python -m caoskol.spark_cds >/dev/null 2>&1 || echo "  (no class-data archive: Spark starts slower)"

PIDS=()
stop_all() {
  for pid in "${PIDS[@]}"; do kill -- "-$pid" 2>/dev/null || true; done
}
if [ -z "${KEEP:-}" ]; then trap stop_all EXIT; fi
start() {  # name command... : its own process group, log in var/celery/<name>.log
  local name=$1; shift
  setsid "$@" >"$CEL/$name.log" 2>&1 </dev/null &
  PIDS+=("$!")
  echo "  $name: pid $! (log $CEL/$name.log)"
}

say "databases: PostgreSQL $PG_DB (Airflow), MySQL $CAOSKOL_COLEGIO_DB, $CAOSKOL_REPORTES_DB (school, reports)"
psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $PG_DB" -c "CREATE DATABASE $PG_DB" postgres
mysql -h 127.0.0.1 -u root -e "DROP DATABASE IF EXISTS $CAOSKOL_COLEGIO_DB; DROP DATABASE IF EXISTS $CAOSKOL_REPORTES_DB"
redis-cli -n 6 FLUSHDB >/dev/null 2>&1 || python -c "import redis; redis.Redis(db=6).flushdb()"
rm -rf "$CAOSKOL_DATA_DIR" "$AIRFLOW_HOME/logs"; mkdir -p "$CAOSKOL_DATA_DIR"
caoskol init-db
caoskol generate --students "${CAOSKOL_DEMO_STUDENTS:-400}" --seed 2026 --users --out "$CEL/school" >/dev/null
caoskol load "$CEL/school/notas.csv" "$CEL/school/usuarios.csv" >/dev/null || true
airflow db migrate >"$CEL/migrate.log" 2>&1 || { cat "$CEL/migrate.log"; exit 1; }

say "starting Airflow with the CeleryExecutor and two workers"
start api-server airflow api-server --port $PORT
start scheduler airflow scheduler
start dag-processor airflow dag-processor
for n in 1 2; do
  start "worker-$n" env CAOSKOL_WORKER_NAME="caoskol-w$n" AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=$((8793 + n)) \
    airflow celery worker --concurrency 1 --celery-hostname "caoskol-w$n@%h"
done

RUN_ID="manual__celery_$(date -u +%Y%m%dT%H%M%S)"
state=$(bash scripts/trigger_run.sh "$RUN_ID" 240)

say "run $RUN_ID: $state. Task instances, as the metadata database records them"
psql -h 127.0.0.1 -U postgres -d "$PG_DB" -P pager=off -c "
  SELECT task_id, state, queue, hostname,
         to_char(start_date, 'HH24:MI:SS.MS') AS started, to_char(end_date, 'HH24:MI:SS.MS') AS ended,
         round(duration::numeric, 1) AS seconds
  FROM task_instance WHERE run_id = '$RUN_ID' ORDER BY start_date"
psql -h 127.0.0.1 -U postgres -d "$PG_DB" -At -c "
  SELECT 'spark tasks overlapped: ' ||
         CASE WHEN a.start_date < b.end_date AND b.start_date < a.end_date
              THEN 'yes, ' || round(extract(epoch FROM least(a.end_date, b.end_date) - greatest(a.start_date, b.start_date))::numeric, 1) || ' s'
              ELSE 'no' END
  FROM task_instance a JOIN task_instance b ON a.run_id = b.run_id
  WHERE a.run_id = '$RUN_ID' AND a.task_id = 'spark_statistics' AND b.task_id = 'spark_correlations'"
say "the published report ($CAOSKOL_REPORTES_DB.ejecuciones)"
# The nightly schedule may have started a run of its own first (max_active_runs = 1 queues ours).
mysql -h 127.0.0.1 -u root "$CAOSKOL_REPORTES_DB" -e "SELECT run_id, estado, filas_leidas, filas_limpias,
  filas_cuarentena, inicio, fin FROM ejecuciones ORDER BY inicio"
if [ -n "${KEEP:-}" ]; then
  echo "Left running (UI http://localhost:$PORT, user admin, password in $AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE):"
  printf '  kill -- -%s\n' "${PIDS[@]}"
fi
[ "$state" = success ]
