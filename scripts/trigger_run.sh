#!/usr/bin/env bash
# Wait until the DAG processor has registered caoskol_nightly, unpause it, trigger the run
# RUN_ID now and wait for it to end; print its final state (success, failed, or the last
# state seen when POLLS x 5 s ran out) on stdout. Runs in the caller's environment (the
# Airflow of scripts/env.sh, or the one a rehearsal exported).
#   state=$(bash scripts/trigger_run.sh RUN_ID [POLLS])
set -euo pipefail
RUN_ID=$1; POLLS=${2:-360}
echo "==> waiting for the DAG processor to register caoskol_nightly" >&2
for _ in $(seq 1 90); do
  airflow dags list -o plain 2>/dev/null | grep -q caoskol_nightly && break
  sleep 2
done
airflow dags unpause caoskol_nightly >/dev/null 2>&1 || true
echo "==> triggering caoskol_nightly (run $RUN_ID)" >&2
airflow dags trigger caoskol_nightly --run-id "$RUN_ID" --logical-date "$(date -u +%Y-%m-%dT%H:%M:%S+00:00)" >/dev/null
state=queued
for _ in $(seq 1 "$POLLS"); do
  state=$(airflow dags list-runs caoskol_nightly -o json 2>/dev/null \
    | python -c "import sys; from caoskol.airflow_cli import run_state; print(run_state(sys.stdin.read(), '$RUN_ID'))" \
    || echo none)
  case "$state" in success|failed) break ;; esac
  sleep 5
done
echo "$state"
