# Source this file: the environment every Caoskol command runs in (paths, connections).
# Values already set in the environment win, so a deployment overrides what it needs.
CAOSKOL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CAOSKOL_ROOT
export CAOSKOL_VAR="${CAOSKOL_VAR:-$CAOSKOL_ROOT/var}"
export CAOSKOL_DATA_DIR="${CAOSKOL_DATA_DIR:-$CAOSKOL_VAR/data}"
export VIRTUAL_ENV="${VIRTUAL_ENV:-$CAOSKOL_ROOT/.venv}"
export PATH="$VIRTUAL_ENV/bin:$PATH"
export PYSPARK_PYTHON="${PYSPARK_PYTHON:-$VIRTUAL_ENV/bin/python}"
if [ -z "${JAVA_HOME:-}" ] && command -v java >/dev/null 2>&1; then
  JAVA_HOME="$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")"
  export JAVA_HOME
fi

# MySQL: one server, two databases. The URLs serve the loader and the portal; Airflow
# reads the same databases through its connections (AIRFLOW_CONN_*), never hard-coded in the DAG.
export CAOSKOL_MYSQL_SERVER="${CAOSKOL_MYSQL_SERVER:-root@127.0.0.1:3306}"
# The two database names: another pair on the same server (a rehearsal, a second school)
# needs only these two set.
export CAOSKOL_COLEGIO_DB="${CAOSKOL_COLEGIO_DB:-colegio}"
export CAOSKOL_REPORTES_DB="${CAOSKOL_REPORTES_DB:-caoskol_reportes}"
export CAOSKOL_COLEGIO_URL="${CAOSKOL_COLEGIO_URL:-mysql+mysqldb://$CAOSKOL_MYSQL_SERVER/$CAOSKOL_COLEGIO_DB?charset=utf8mb4}"
export CAOSKOL_REPORTES_URL="${CAOSKOL_REPORTES_URL:-mysql+mysqldb://$CAOSKOL_MYSQL_SERVER/$CAOSKOL_REPORTES_DB?charset=utf8mb4}"
export AIRFLOW_CONN_COLEGIO_MYSQL="${AIRFLOW_CONN_COLEGIO_MYSQL:-mysql://$CAOSKOL_MYSQL_SERVER/$CAOSKOL_COLEGIO_DB?charset=utf8mb4}"
export AIRFLOW_CONN_REPORTES_MYSQL="${AIRFLOW_CONN_REPORTES_MYSQL:-mysql://$CAOSKOL_MYSQL_SERVER/$CAOSKOL_REPORTES_DB?charset=utf8mb4}"
# local[*] by default; a standalone cluster: {"conn_type": "spark", "host": "spark://HOST", "port": 7077}
export AIRFLOW_CONN_SPARK_DEFAULT="${AIRFLOW_CONN_SPARK_DEFAULT:-{\"conn_type\": \"spark\", \"host\": \"local[*]\"\}}"

# Airflow: its home under var/, the project's airflow.cfg, the project's dags/.
export AIRFLOW_HOME="${AIRFLOW_HOME:-$CAOSKOL_VAR/airflow}"
export AIRFLOW_CONFIG="${AIRFLOW_CONFIG:-$CAOSKOL_ROOT/airflow.cfg}"
export AIRFLOW__CORE__DAGS_FOLDER="${AIRFLOW__CORE__DAGS_FOLDER:-$CAOSKOL_ROOT/dags}"
# The run-failure listener (a run marked failed in the UI closes its 'ejecuciones' row).
export AIRFLOW__CORE__PLUGINS_FOLDER="${AIRFLOW__CORE__PLUGINS_FOLDER:-$CAOSKOL_ROOT/plugins}"
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-sqlite:///$AIRFLOW_HOME/airflow.db}"
export AIRFLOW__LOGGING__BASE_LOG_FOLDER="${AIRFLOW__LOGGING__BASE_LOG_FOLDER:-$AIRFLOW_HOME/logs}"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:-$AIRFLOW_HOME/passwords.json}"
export GX_ANALYTICS_ENABLED=False
mkdir -p "$AIRFLOW_HOME" "$CAOSKOL_DATA_DIR"

# Secrets made once per machine, kept in var/ (mode 0600), never committed.
_caoskol_secret() {  # file name -> a random hex string, created on first use
  if [ ! -s "$CAOSKOL_VAR/$1" ]; then
    (umask 077; python3 -c 'import secrets; print(secrets.token_hex(32))' > "$CAOSKOL_VAR/$1")
  fi
  cat "$CAOSKOL_VAR/$1"
}
# Airflow's api-server signs the tokens its scheduler and task runners present: every
# component must share one secret, or each makes its own and no task can run.
if [ -z "${AIRFLOW__API_AUTH__JWT_SECRET:-}" ]; then
  AIRFLOW__API_AUTH__JWT_SECRET="$(_caoskol_secret airflow_jwt_secret)"
  export AIRFLOW__API_AUTH__JWT_SECRET
fi

# The portal's session and CSRF signing key.
if [ -z "${CAOSKOL_SECRET_KEY:-}" ]; then
  CAOSKOL_SECRET_KEY="$(_caoskol_secret secret_key)"
  export CAOSKOL_SECRET_KEY
fi
export CAOSKOL_AIRFLOW_URL="${CAOSKOL_AIRFLOW_URL:-http://localhost:${CAOSKOL_AIRFLOW_PORT:-8080}}"
# Several gunicorn workers share failed-login counters only through Redis.
if [ -z "${CAOSKOL_RATELIMIT_STORAGE_URI:-}" ] && (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
  export CAOSKOL_RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379"
fi
