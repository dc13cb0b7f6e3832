"""The run summary prints a demo password only while it still opens the account."""

from __future__ import annotations

from sqlalchemy import update

from caoskol import db, schema, summary
from caoskol.loaders import hash_password


def test_demo_account_password_is_checked_against_the_database(mysql_urls, tmp_path, monkeypatch):
    monkeypatch.setenv("CAOSKOL_PASSWORD_HASH_METHOD", "pbkdf2:sha256:1000")
    colegio, _ = mysql_urls
    eng = db.engine(colegio)
    with eng.begin() as conn:
        conn.execute(schema.usuarios.insert(), [
            {"id": 1, "nombre": "Mario Muñoz", "rol": "estudiante", "clave_hash": hash_password("clave-uno")},
            {"id": 2, "nombre": "Ana", "rol": "profesor", "clave_hash": hash_password("clave-dos")},
        ])
    users = tmp_path / "usuarios.csv"
    users.write_text("id,nombre,grado,clave,rol\n1,Mario Muñoz,6,clave-uno,Estudiante\n2,Ana,NULL,clave-dos,Profesor\n", encoding="utf-8")
    assert summary.demo_accounts(users, eng) == [("estudiante", "1", "clave-uno", True), ("profesor", "2", "clave-dos", True)]
    with eng.begin() as conn:  # the teacher logged in and changed it
        conn.execute(update(schema.usuarios).where(schema.usuarios.c.id == 2).values(clave_hash=hash_password("nueva-clave")))
    accounts = summary.demo_accounts(users, eng)
    assert accounts[1] == ("profesor", "2", "clave-dos", False)
    text = summary.format_summary({"latest": None, "current": None, "means": {}, "grades": []}, "http://a", "http://p", accounts, None)
    assert "id 1, clave clave-uno" in text and "clave-dos" not in text and "--replace" in text
    eng.dispose()
