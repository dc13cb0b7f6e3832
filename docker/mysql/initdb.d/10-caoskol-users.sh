#!/bin/bash
# Caoskol's two databases and its least-privilege accounts (nobody uses root).
#
# The official mysql image sources this file once, on an empty data volume (it is not
# executable on purpose: sourced, it can use the image's docker_process_sql). Run by hand
# (`bash 10-caoskol-users.sh`) it only prints the SQL, which is how the rehearsal applies
# the same grants to a local MariaDB and how tests/deploy checks them.
#
#   account           colegio (system of record)       caoskol_reportes (published reports)
#   caoskol_admin     all (DDL: `caoskol init-db`, loads) all (DDL)
#   caoskol_pipeline  SELECT                            SELECT, INSERT, UPDATE, DELETE
#   caoskol_portal    SELECT, INSERT, UPDATE, DELETE    SELECT
#
# Passwords: CAOSKOL_<ROLE>_DB_PASSWORD or, better, CAOSKOL_<ROLE>_DB_PASSWORD_FILE (a
# secret). Names can be overridden (CAOSKOL_COLEGIO_DB, CAOSKOL_REPORTES_DB,
# CAOSKOL_<ROLE>_DB_USER), which only the rehearsal does.

caoskol_secret() {  # caoskol_secret VAR -> the value of VAR, or the content of the file in VAR_FILE
    local var="$1" file_var="${1}_FILE" value=""
    if [ -n "${!file_var:-}" ]; then
        value="$(< "${!file_var}")" || { echo "caoskol: cannot read ${!file_var} ($file_var)" >&2; return 1; }
    else
        value="${!var:-}"
    fi
    if [ -z "$value" ]; then
        echo "caoskol: $var (or $file_var) is required to create the database accounts" >&2
        return 1
    fi
    printf '%s' "$value"
}

caoskol_sql_string() {  # a SQL string literal: backslashes and single quotes escaped
    local s="${1//\\/\\\\}"
    printf "'%s'" "${s//\'/\'\'}"
}

caoskol_users_sql() {
    local colegio="${CAOSKOL_COLEGIO_DB:-colegio}" reportes="${CAOSKOL_REPORTES_DB:-caoskol_reportes}"
    local admin="${CAOSKOL_ADMIN_DB_USER:-caoskol_admin}"
    local pipeline="${CAOSKOL_PIPELINE_DB_USER:-caoskol_pipeline}"
    local portal="${CAOSKOL_PORTAL_DB_USER:-caoskol_portal}"
    local admin_pw pipeline_pw portal_pw
    admin_pw="$(caoskol_secret CAOSKOL_ADMIN_DB_PASSWORD)" || return 1
    pipeline_pw="$(caoskol_secret CAOSKOL_PIPELINE_DB_PASSWORD)" || return 1
    portal_pw="$(caoskol_secret CAOSKOL_PORTAL_DB_PASSWORD)" || return 1
    cat <<SQL
CREATE DATABASE IF NOT EXISTS \`$colegio\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE DATABASE IF NOT EXISTS \`$reportes\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '$admin'@'%' IDENTIFIED BY $(caoskol_sql_string "$admin_pw");
CREATE USER IF NOT EXISTS '$pipeline'@'%' IDENTIFIED BY $(caoskol_sql_string "$pipeline_pw");
CREATE USER IF NOT EXISTS '$portal'@'%' IDENTIFIED BY $(caoskol_sql_string "$portal_pw");
GRANT ALL PRIVILEGES ON \`$colegio\`.* TO '$admin'@'%';
GRANT ALL PRIVILEGES ON \`$reportes\`.* TO '$admin'@'%';
GRANT SELECT ON \`$colegio\`.* TO '$pipeline'@'%';
GRANT SELECT, INSERT, UPDATE, DELETE ON \`$reportes\`.* TO '$pipeline'@'%';
GRANT SELECT, INSERT, UPDATE, DELETE ON \`$colegio\`.* TO '$portal'@'%';
GRANT SELECT ON \`$reportes\`.* TO '$portal'@'%';
FLUSH PRIVILEGES;
SQL
}

if declare -F docker_process_sql >/dev/null; then
    echo "caoskol: creating databases and accounts"
    caoskol_users_sql | docker_process_sql
else
    caoskol_users_sql
fi
