"""The CLI against a real MariaDB: init-db, load's report and exit codes, create-user."""

from __future__ import annotations

import io
import os
import uuid

from sqlalchemy import inspect, select
from sqlalchemy.engine import make_url
from werkzeug.security import check_password_hash

from caoskol import cli, db, schema

# Same server as tests/conftest.py uses.
TEST_SERVER = os.environ.get("CAOSKOL_TEST_SERVER", "mysql+mysqldb://root@127.0.0.1:3306")


def test_init_db_creates_both_schemas(fresh_databases, monkeypatch, capsys):
    # Databases that do not exist yet: init-db must create them (dropped by the fixture).
    suffix = uuid.uuid4().hex[:8]
    colegio = f"{TEST_SERVER}/caoskol_colegio_cli_{suffix}?charset=utf8mb4"
    reportes = f"{TEST_SERVER}/caoskol_rep_cli_{suffix}?charset=utf8mb4"
    fresh_databases.created += [make_url(colegio).database, make_url(reportes).database]
    monkeypatch.setenv("CAOSKOL_COLEGIO_URL", colegio)
    monkeypatch.setenv("CAOSKOL_REPORTES_URL", reportes)
    assert cli.main(["init-db"]) == 0
    assert cli.main(["init-db"]) == 0  # idempotent
    for url, tables in ((colegio, {"notas", "usuarios"}), (reportes, {"ejecuciones", "reporte_actual"})):
        eng = db.engine(url)
        assert tables <= set(inspect(eng).get_table_names())
        eng.dispose()
    assert capsys.readouterr().out.count("schema ready") == 4


def test_load_exit_codes_and_report(mysql_urls, seed_dir, tmp_path, capsys):
    assert cli.main(["load", str(seed_dir / "US_Dataset.csv")]) == 0
    out = capsys.readouterr().out
    assert "loaded 400, updated 0, unchanged 0, refused 0" in out
    assert f"{seed_dir / 'US_Dataset.csv'}:56: warning: name 'Mario Mu\ufffdoz' of id 55" in out

    assert cli.main(["load", str(seed_dir / "init.sql")]) == 1
    out = capsys.readouterr().out
    assert f"{seed_dir / 'init.sql'}:68: error: duplicate id 2 in this file (first at line 27" in out
    assert "FILE NOT TAKEN" in out

    bad = tmp_path / "bad.csv"
    bad.write_text(",".join(schema.NOTAS_COLUMNS) + "\n900,Ana,6,2,1,58,32,33\n901,Bob,6,2,1,x,32,33\n", encoding="utf-8")
    assert cli.main(["load", "--strict", str(bad)]) == 2
    assert "nothing was loaded" in capsys.readouterr().out
    assert cli.main(["load", str(bad), "--kind", "csv"]) == 1
    assert f"{bad}:3: error: matematicas: not an integer: 'x'" in capsys.readouterr().out


def test_load_without_schema_fails_clearly(monkeypatch, capsys):
    monkeypatch.setenv("CAOSKOL_COLEGIO_URL", f"{TEST_SERVER}/caoskol_no_such_db_x?charset=utf8mb4")
    assert cli.main(["load", "whatever.csv"]) == cli.EXIT_FAILURE
    assert "cannot reach" in capsys.readouterr().err


def test_create_user_from_stdin_and_env(mysql_urls, monkeypatch, capsys):
    monkeypatch.setenv("CAOSKOL_PASSWORD_HASH_METHOD", "pbkdf2:sha256:1000")
    monkeypatch.setattr("sys.stdin", io.StringIO("una-clave-larga\n"))
    assert cli.main(["create-user", "--id", "9000", "--nombre", "Admin Demo", "--rol", "administrador",
                     "--password-stdin"]) == 0
    eng = db.engine(mysql_urls[0])
    t = schema.usuarios
    with eng.connect() as conn:
        admin = conn.execute(select(t).where(t.c.id == 9000)).one()
    assert admin.rol == "administrador" and not admin.debe_cambiar_clave
    assert check_password_hash(admin.clave_hash, "una-clave-larga") and "una-clave-larga" not in admin.clave_hash

    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    monkeypatch.setenv("CAOSKOL_NEW_PASSWORD", "otra-clave-larga")
    assert cli.main(["create-user", "--id", "9000", "--nombre", "Admin Demo"]) == cli.EXIT_FAILURE
    assert "already exists" in capsys.readouterr().err
    version_before = admin.sesion_version
    assert cli.main(["create-user", "--id", "9000", "--nombre", "Admin Dos", "--replace"]) == 0
    with eng.connect() as conn:
        admin = conn.execute(select(t).where(t.c.id == 9000)).one()
    eng.dispose()
    assert admin.nombre == "Admin Dos" and check_password_hash(admin.clave_hash, "otra-clave-larga")
    # Old sessions of the reset account stop working: its version moves on (new accounts
    # start at a random version, so the step is what is checked, not a value).
    assert admin.sesion_version == version_before + 1

    monkeypatch.setenv("CAOSKOL_NEW_PASSWORD", "short")
    assert cli.main(["create-user", "--id", "9001", "--nombre", "X"]) == cli.EXIT_FAILURE
    assert "shorter than 8" in capsys.readouterr().err
