#!/usr/bin/env bash
# Install everything Caoskol needs on a Debian/Ubuntu machine: system packages, a Python
# 3.11 virtualenv with the pinned dependencies, the portal's front-end libraries, and a
# running MySQL-compatible server. Safe to run again: each step skips what is done.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"

say() { printf '\n==> %s\n' "$*"; }

need_pkgs=()
for p in libmariadb-dev pkg-config libmariadb-java haproxy wrk chromium; do
  dpkg -s "$p" >/dev/null 2>&1 || need_pkgs+=("$p")
done
# Commands that may come from elsewhere than Debian (e.g. Node.js from its own packages).
command -v java >/dev/null 2>&1 || need_pkgs+=(openjdk-17-jre-headless)
command -v npm >/dev/null 2>&1 || need_pkgs+=(nodejs npm)
# A MySQL-compatible server only where none answers (CI and dev machines run MariaDB).
if ! (exec 3<>/dev/tcp/127.0.0.1/3306) 2>/dev/null && ! command -v mariadbd >/dev/null 2>&1; then
  need_pkgs+=(mariadb-server)
fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
  say "apt-get install ${need_pkgs[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

if ! (exec 3<>/dev/tcp/127.0.0.1/3306) 2>/dev/null; then
  say "starting MariaDB"
  if command -v systemctl >/dev/null 2>&1 && systemctl list-units >/dev/null 2>&1; then
    $SUDO systemctl start mariadb
  else
    $SUDO mkdir -p /run/mysqld && $SUDO chown mysql:mysql /run/mysqld 2>/dev/null || true
    $SUDO start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
  fi
  for _ in $(seq 1 30); do (exec 3<>/dev/tcp/127.0.0.1/3306) 2>/dev/null && break; sleep 1; done
fi

PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || { echo "Python 3.11 is required (python3.11 not found)" >&2; exit 1; }
if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip uv >/dev/null
say "installing Python dependencies (requirements.lock)"
# Compiled now: this machine sets PYTHONDONTWRITEBYTECODE=1, so otherwise every Airflow
# task and spark-submit recompiles its imports (GX alone: 10–13 s instead of 3 s).
.venv/bin/uv pip install -q --compile-bytecode -p .venv/bin/python -r requirements.lock
.venv/bin/uv pip install -q -p .venv/bin/python --no-deps -e .
# The Spark provider depends on pyspark-client, which ships the same `pyspark` files at an
# older version; reinstalling pyspark last makes the files on disk match spark-submit's jars.
.venv/bin/uv pip install -q --compile-bytecode -p .venv/bin/python --reinstall --no-deps "$(grep '^pyspark==' requirements.lock)"
say "Spark driver class archive (caoskol.spark_cds: Spark's classes mapped, not loaded, by each job)"
# Without it the jobs run as before, only slower to start; a failure here is reported, not fatal.
.venv/bin/python -m caoskol.spark_cds || echo "warning: no Spark class archive; Spark jobs start without it" >&2

say "deployment checks (hadolint, shellcheck, check-jsonschema: PyPI wheels that carry their binaries)"
.venv/bin/uv pip install -q -p .venv/bin/python -r tests/deploy/requirements.txt
say "benchmark extras (bench/requirements.txt: matplotlib for the scale plot)"
.venv/bin/uv pip install -q --compile-bytecode -p .venv/bin/python -r bench/requirements.txt

if [ -f web/package.json ]; then
  say "installing the portal's front-end libraries from the npm registry"
  (cd web && npm ci --no-audit --no-fund --silent && npm run --silent build)
fi
say "installed"
