"""docker/mysql/initdb.d/10-caoskol-users.sh applied to the real MySQL-compatible server
(under unique names): each account can do its job and nothing more. Nobody uses root."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from deploy_support import rehearse

DENIED = (OperationalError, ProgrammingError)


@pytest.fixture(scope="module")
def accounts(fresh_databases):
    from sqlalchemy.engine import make_url

    colegio, reportes = fresh_databases.new("acct")
    url = make_url(colegio)
    server = f"mysql+mysqldb://{url.username}@{url.host}:{url.port or 3306}"
    acc = rehearse.Accounts(server, url.database, make_url(reportes).database)
    acc.create()
    yield acc
    acc.drop()


def can(acc, role: str, database: str, sql: str) -> bool:
    eng = create_engine(acc.url(role, database))
    try:
        with eng.begin() as conn:
            conn.execute(text(sql))
        return True
    except DENIED as exc:
        assert "denied" in str(exc).lower(), exc
        return False
    finally:
        eng.dispose()


def test_passwords_with_quotes_backslashes_and_url_characters_work(accounts):
    assert any(c in accounts.passwords["portal"] for c in "'\\:@/")
    assert can(accounts, "portal", accounts.reportes_db, "SELECT 1")


def test_the_pipeline_reads_the_school_and_writes_the_reports(accounts):
    col, rep = accounts.colegio_db, accounts.reportes_db
    assert can(accounts, "pipeline", col, "SELECT COUNT(*) FROM notas")
    assert not can(accounts, "pipeline", col, "INSERT INTO notas (id, nombre) VALUES (999999, 'x')")
    assert not can(accounts, "pipeline", col, "UPDATE usuarios SET activo = 0")
    assert can(accounts, "pipeline", rep, "DELETE FROM estadisticas WHERE run_id = 'nada'")
    assert can(accounts, "pipeline", rep, "SELECT COUNT(*) FROM reporte_actual")
    assert not can(accounts, "pipeline", rep, "CREATE TABLE intrusa (x INT)")


def test_the_portal_reads_the_reports_and_manages_the_school(accounts):
    col, rep = accounts.colegio_db, accounts.reportes_db
    assert can(accounts, "portal", rep, "SELECT COUNT(*) FROM estadisticas")
    assert not can(accounts, "portal", rep, "DELETE FROM estadisticas")
    assert not can(accounts, "portal", rep, "UPDATE reporte_actual SET run_id = 'falsa'")
    assert can(accounts, "portal", col, "UPDATE usuarios SET sesion_version = sesion_version WHERE id = -1")
    assert can(accounts, "portal", col, "DELETE FROM notas WHERE id = -1")
    assert not can(accounts, "portal", col, "DROP TABLE notas")


def test_only_the_admin_account_changes_tables(accounts):
    col = accounts.colegio_db
    assert can(accounts, "admin", col, "CREATE TABLE prueba_admin (x INT)")
    assert can(accounts, "admin", col, "DROP TABLE prueba_admin")


def test_no_account_reaches_other_databases(accounts):
    for role in ("admin", "pipeline", "portal"):
        assert not can(accounts, role, accounts.colegio_db, "SELECT COUNT(*) FROM mysql.user")
