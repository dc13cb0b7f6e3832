"""The loader against a real MariaDB: every seed file, idempotence, strict mode, round trips."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import func, select, text, update
from werkzeug.security import check_password_hash

from caoskol import db, schema
from caoskol.loaders import load_files
from caoskol.synthetic import DefectRates, generate

NOTAS_HEADER = ",".join(schema.NOTAS_COLUMNS) + "\n"
CHEAP_HASH = "pbkdf2:sha256:1000"


@pytest.fixture()
def colegio(mysql_urls):
    url = mysql_urls[0]
    eng = db.engine(url)
    yield url, eng
    eng.dispose()


def notas_rows(eng) -> dict[int, dict]:
    with eng.connect() as conn:
        return {r["id"]: dict(r) for r in conn.execute(select(schema.notas)).mappings()}


def test_us_dataset_dump(colegio, seed_dir):
    url, eng = colegio
    report = load_files([seed_dir / "US_Dataset.csv"], url=url)
    res = report.results[0]
    assert (res.loaded, res.updated, res.refused, report.exit_code) == (400, 0, 0, 0)
    assert {(w.line, w.id) for w in res.warnings} == {(56, 55), (85, 84)}
    with eng.connect() as conn:
        count, lo, hi, mean_math = conn.execute(
            select(func.count(), func.min(schema.notas.c.id), func.max(schema.notas.c.id),
                   func.avg(schema.notas.c.matematicas))
        ).one()
        nulls = conn.execute(text("SELECT COUNT(*) FROM notas WHERE matematicas IS NULL OR ingles IS NULL "
                                  "OR ciencias IS NULL OR grado IS NULL")).scalar()
    assert (count, lo, hi, nulls) == (400, 1, 400, 0)
    assert float(mean_math) == pytest.approx(60.3775)
    rows = notas_rows(eng)
    assert rows[1]["nombre"] == "Adan Sanchez" and rows[1]["ciencias"] == 33
    assert rows[55]["nombre"] == "Mario Mu\ufffdoz"  # loaded as is, with a warning


def test_users_file_hashes_passwords(colegio, seed_dir, monkeypatch):
    monkeypatch.setenv("CAOSKOL_PASSWORD_HASH_METHOD", CHEAP_HASH)
    url, eng = colegio
    report = load_files([seed_dir / "US_Dataset_users.csv"], url=url)
    res = report.results[0]
    assert (res.table, res.loaded, res.refused, report.exit_code) == ("usuarios", 403, 0, 0)
    with eng.connect() as conn:
        users = {r.id: r for r in conn.execute(select(schema.usuarios))}
        notas_count = conn.execute(select(func.count()).select_from(schema.notas)).scalar()
    assert notas_count == 0  # accounts alone put nobody into notas
    assert {i for i, u in users.items() if u.rol == "profesor"} == {401, 402, 403}
    assert all(u.rol == "estudiante" for i, u in users.items() if i <= 400)
    for u in (users[1], users[55], users[401]):
        assert u.clave_hash != "1234" and u.clave_hash.startswith("pbkdf2:sha256:1000$")
        assert check_password_hash(u.clave_hash, "1234")
        assert u.debe_cambiar_clave
    assert len({u.clave_hash for u in users.values()}) == 403  # salted: no two alike
    # Session versions start at random numbers: a reused ID never accepts an old cookie.
    assert len({u.sesion_version for u in users.values()}) > 400
    assert users[55].nombre == "Mario Muñoz"  # read back from MySQL intact


def test_users_reimport_keeps_changed_passwords_and_roles(colegio, seed_dir, monkeypatch):
    monkeypatch.setenv("CAOSKOL_PASSWORD_HASH_METHOD", CHEAP_HASH)
    url, eng = colegio
    path = seed_dir / "US_Dataset_users.csv"
    load_files([path], url=url)
    t = schema.usuarios
    with eng.begin() as conn:
        conn.execute(update(t).where(t.c.id == 7).values(clave_hash="changed", debe_cambiar_clave=False))
        conn.execute(update(t).where(t.c.id == 8).values(rol="profesor"))
    report = load_files([path], url=url)
    res = report.results[0]
    assert (res.loaded, res.updated, res.unchanged) == (0, 0, 403)
    assert [(w.line, w.id) for w in res.warnings] == [(9, 8)] and "role not changed" in res.warnings[0].reason
    with eng.connect() as conn:
        seven = conn.execute(select(t).where(t.c.id == 7)).one()
        eight = conn.execute(select(t).where(t.c.id == 8)).one()
    assert (seven.clave_hash, seven.debe_cambiar_clave, eight.rol) == ("changed", False, "profesor")


def test_xlsx_names_repaired_and_program_words(colegio, seed_dir):
    url, eng = colegio
    report = load_files([seed_dir / "US_Dataset.xlsx"], url=url)
    res = report.results[0]
    assert (res.loaded, res.refused, res.repaired_names, report.exit_code) == (400, 0, 2, 0)
    rows = notas_rows(eng)
    assert rows[55]["nombre"] == "Mario Muñoz" and rows[84]["nombre"] == "Jesus Madroñero"
    assert not any("Ã" in r["nombre"] for r in rows.values())
    assert {r["programa"] for r in rows.values()} == {0, 1, 3}
    assert (rows[1]["programa"], rows[2]["programa"], rows[55]["programa"]) == (1, 3, 0)  # Vocacional, General, Academico
    assert rows[398]["premios"] == 7  # implausible but representable: kept for the pipeline


def test_init_sql_is_refused_with_a_report(colegio, seed_dir):
    url, eng = colegio
    report = load_files([seed_dir / "init.sql"], url=url)
    res = report.results[0]
    assert res.fatal and report.exit_code == 1
    assert res.loaded == res.updated == 0 and res.refused == 5 + 403 and res.rolled_back == 400
    assert {i.line for i in res.errors} == {68, 69, 70, 71, 72, 469, 872}
    assert notas_rows(eng) == {}
    printed = report.format()
    assert f"{seed_dir / 'init.sql'}:469: error: INSERT INTO notas not taken: column(s) clave" in printed


def test_reimport_is_idempotent_and_counts_updates(colegio, seed_dir):
    url, eng = colegio
    path = seed_dir / "US_Dataset.csv"
    load_files([path], url=url)
    before = notas_rows(eng)
    res = load_files([path], url=url).results[0]
    assert (res.loaded, res.updated, res.unchanged) == (0, 0, 400)
    assert notas_rows(eng) == before  # actualizado_en untouched too
    with eng.begin() as conn:
        conn.execute(update(schema.notas).where(schema.notas.c.id == 3).values(ingles=1))
    res = load_files([path], url=url).results[0]
    assert (res.loaded, res.updated, res.unchanged) == (0, 1, 399)
    assert notas_rows(eng)[3]["ingles"] == 94


def write_bad_csv(tmp_path: Path) -> Path:
    path = tmp_path / "bad.csv"
    path.write_text(
        NOTAS_HEADER + "1,Ana Muñoz,6,2,1,58,32,33\n2,Bad,6,2,1,5x,32,33\n3,Leo,,1,0,140,-3,\n", encoding="utf-8"
    )
    return path


def test_refused_rows_are_reported_rest_loaded(colegio, tmp_path):
    url, eng = colegio
    path = write_bad_csv(tmp_path)
    report = load_files([path], url=url)
    res = report.results[0]
    assert (res.loaded, res.refused, report.exit_code) == (2, 1, 1)
    assert str(res.errors[0]) == f"{path}:3: error: matematicas: not an integer: '5x'"
    rows = notas_rows(eng)
    assert sorted(rows) == [1, 3]
    # Out-of-range and NULL values are loaded for the pipeline to measure.
    assert (rows[3]["grado"], rows[3]["matematicas"], rows[3]["ingles"], rows[3]["ciencias"]) == (None, 140, -3, None)


def test_strict_loads_nothing_on_any_error(colegio, tmp_path, seed_dir):
    url, eng = colegio
    report = load_files([seed_dir / "US_Dataset.csv", write_bad_csv(tmp_path)], url=url, strict=True)
    assert report.exit_code == 2
    assert [r.rolled_back for r in report.results] == [400, 2]
    assert all(r.loaded == 0 for r in report.results)
    assert notas_rows(eng) == {}
    ok = load_files([seed_dir / "US_Dataset.csv"], url=url, strict=True)
    assert ok.exit_code == 0 and len(notas_rows(eng)) == 400


def test_munoz_round_trip_through_mysql(colegio, tmp_path):
    url, eng = colegio
    path = tmp_path / "names.csv"
    path.write_text(NOTAS_HEADER + "1,Mario Muñoz,6,1,0,79,84,54\n2,Mario MuÃ±oz,6,1,0,79,84,54\n"
                    "3,Íñigo Ibáñez Zúñiga,7,0,3,1,2,3\n", encoding="utf-8")
    load_files([path], url=url)
    with eng.connect() as conn:
        names = dict(conn.execute(text("SELECT id, nombre FROM notas")).all())
        hexed = conn.execute(text("SELECT HEX(nombre) FROM notas WHERE id = 1")).scalar()
    assert names == {1: "Mario Muñoz", 2: "Mario Muñoz", 3: "Íñigo Ibáñez Zúñiga"}
    assert bytes.fromhex(hexed).decode("utf-8") == "Mario Muñoz"  # stored as real UTF-8 (ñ = C3 B1)


def test_generated_file_loads_with_expected_counts(colegio, tmp_path):
    url, eng = colegio
    rates = DefectRates(null_grade=0.03, null_science=0.03, out_of_range=0.02, duplicate_id=0.01, mojibake=0.03)
    summary = generate(tmp_path, 30_000, seed=9, rates=rates)
    report = load_files([tmp_path / "notas.csv"], url=url, batch_rows=4000)
    res = report.results[0]
    assert res.loaded == 30_000 and res.refused == summary.duplicate_id
    assert res.repaired_names == summary.mojibake
    assert all(re.fullmatch(r"duplicate id \d+ in this file \(first at line \d+, which is kept\)", e.reason)
               for e in res.errors)
    with eng.connect() as conn:
        counts = conn.execute(text(
            "SELECT SUM(grado IS NULL), SUM(ciencias IS NULL), "
            "SUM(matematicas NOT BETWEEN 0 AND 100 OR ingles NOT BETWEEN 0 AND 100 "
            "    OR ciencias NOT BETWEEN 0 AND 100) FROM notas")).one()
        broken = conn.execute(text("SELECT COUNT(*) FROM notas WHERE nombre LIKE BINARY '%Ã%'")).scalar()
    assert tuple(int(c) for c in counts) == (summary.null_grade, summary.null_science, summary.out_of_range)
    assert broken == 0


def test_generated_users_load(colegio, tmp_path, monkeypatch):
    monkeypatch.setenv("CAOSKOL_PASSWORD_HASH_METHOD", CHEAP_HASH)
    url, eng = colegio
    generate(tmp_path, 50, seed=4, users=True, password="demo-password")
    report = load_files([tmp_path / "notas.csv", tmp_path / "usuarios.csv"], url=url)
    assert [r.table for r in report.results] == ["notas", "usuarios"]
    with eng.connect() as conn:
        roles = dict(conn.execute(text("SELECT rol, COUNT(*) FROM usuarios GROUP BY rol")).all())
        admin = conn.execute(select(schema.usuarios).where(schema.usuarios.c.rol == "administrador")).one()
    assert roles == {"estudiante": 50, "profesor": 3, "administrador": 1}
    assert check_password_hash(admin.clave_hash, "demo-password") and admin.debe_cambiar_clave


def test_replacing_another_students_results_is_reported(mysql_urls, tmp_path):
    from caoskol.loaders import load_files

    first = tmp_path / "a.csv"
    first.write_text("id,nombre,grado,premios,programa,matematicas,ingles,ciencias\n1,Adán Sánchez,6,2,1,58,32,33\n", encoding="utf-8")
    other = tmp_path / "b.csv"
    other.write_text("id,nombre,grado,premios,programa,matematicas,ingles,ciencias\n1,Pisa Existente,12,0,0,1,1,1\n", encoding="utf-8")
    load_files([first])
    report = load_files([other])
    (result,) = report.results
    assert result.updated == 1
    (warning,) = result.warnings
    assert warning.line == 2 and "Adán Sánchez" in warning.reason and "Pisa Existente" in warning.reason
    # The same file again changes nothing and says nothing.
    again = load_files([other]).results[0]
    assert again.unchanged == 1 and again.warnings == []
