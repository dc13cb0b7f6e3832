#!/usr/bin/env bash
# Start, stop or list Caoskol's long-running processes on this machine:
# Airflow's api-server (UI on :8080), scheduler, dag-processor, triggerer, and the portal.
# usage: scripts/services.sh start|stop|status [airflow|portal]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/env.sh
source "$ROOT/scripts/env.sh"
RUN="$CAOSKOL_VAR/run"; LOG="$CAOSKOL_VAR/log"
mkdir -p "$RUN" "$LOG"
PORTAL_PORT="${CAOSKOL_PORTAL_PORT:-8000}"
AIRFLOW_PORT="${CAOSKOL_AIRFLOW_PORT:-8080}"
# Task runners report to the api-server's execution API: it must be the port it listens on.
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="${AIRFLOW__CORE__EXECUTION_API_SERVER_URL:-http://localhost:$AIRFLOW_PORT/execution/}"

declare -A CMD=(
  [api-server]="airflow api-server --port $AIRFLOW_PORT"
  [scheduler]="airflow scheduler"
  [dag-processor]="airflow dag-processor"
  [triggerer]="airflow triggerer"
  [portal]="gunicorn --workers 2 --threads 4 --bind 127.0.0.1:$PORTAL_PORT 'caoskol_portal:create_app()'"
)
AIRFLOW_PARTS=(api-server scheduler dag-processor triggerer)

running() { [ -f "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

start_one() {
  local name=$1
  if running "$name"; then echo "  $name: already running (pid $(cat "$RUN/$name.pid"))"; return; fi
  # setsid: the process outlives this script and can be stopped as a group.
  setsid bash -c "exec ${CMD[$name]}" >>"$LOG/$name.log" 2>&1 < /dev/null &
  echo $! > "$RUN/$name.pid"
  echo "  $name: started (pid $!, log $LOG/$name.log)"
}

stop_one() {
  local name=$1
  if running "$name"; then
    kill -- "-$(cat "$RUN/$name.pid")" 2>/dev/null || kill "$(cat "$RUN/$name.pid")" 2>/dev/null || true
    echo "  $name: stopped"
  fi
  rm -f "$RUN/$name.pid"
}

parts() {
  case "${1:-all}" in
    airflow) echo "${AIRFLOW_PARTS[@]}" ;;
    portal) echo portal ;;
    all) echo "${AIRFLOW_PARTS[@]}" portal ;;
    *) echo "unknown group: $1" >&2; exit 2 ;;
  esac
}

case "${1:-status}" in
  start) for p in $(parts "${2:-all}"); do start_one "$p"; done ;;
  stop) for p in $(parts "${2:-all}"); do stop_one "$p"; done ;;
  status) for p in $(parts "${2:-all}"); do
            if running "$p"; then echo "  $p: running (pid $(cat "$RUN/$p.pid"))"; else echo "  $p: stopped"; fi
          done ;;
  *) echo "usage: $0 start|stop|status [airflow|portal|all]" >&2; exit 2 ;;
esac
