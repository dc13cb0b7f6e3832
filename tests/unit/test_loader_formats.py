"""CSV, users CSV and XLSX readers (no database), on crafted files and the school's files."""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
import pytest

from caoskol import schema
from caoskol.loaders import detect_kind, read_records

NOTAS_HEADER = ",".join(schema.NOTAS_COLUMNS) + "\n"


def read(path: Path, kind: str = "auto"):
    result, records = read_records(path, kind)
    return result, {rec["id"]: (line, rec) for line, rec in records}


def test_plain_csv_nulls_and_out_of_range_are_kept(tmp_path):
    path = tmp_path / "notas.csv"
    path.write_text(NOTAS_HEADER + "1,Ana Muñoz,,2,1,58,32,\n2,\"Pérez, Luis\",NULL,0,3,140,-3,55\n", encoding="utf-8")
    result, rows = read(path)
    assert result.kind == "csv" and not result.errors
    assert rows[1] == (2, {"id": 1, "nombre": "Ana Muñoz", "grado": None, "premios": 2, "programa": 1,
                           "matematicas": 58, "ingles": 32, "ciencias": None})
    assert rows[2][1]["nombre"] == "Pérez, Luis" and rows[2][1]["matematicas"] == 140 and rows[2][1]["ingles"] == -3


def test_plain_csv_errors_carry_line_numbers(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(
        NOTAS_HEADER
        + "1,Ana,6,2,1,58,32,33\n"
        + "2,Short,6,2,1,58,32\n"
        + "\n"  # blank lines are skipped, but still counted
        + "3,Bad,6,2,1,abc,32,33\n"
        + "1,Dup,6,2,1,58,32,33\n"
        + "4,Prog,6,2,Tecnico,58,32,33\n"
        + "x,NoId,6,2,1,58,32,33\n"
        + "5,MuÃ±oz,7,0,3,100,20,40\n",
        encoding="utf-8",
    )
    result, rows = read(path)
    assert sorted(rows) == [1, 5] and rows[5][1]["nombre"] == "Muñoz" and result.repaired_names == 1
    errs = {i.line: i.reason for i in result.errors}
    assert errs[3] == "bad arity: 7 fields, the header has 8"
    assert errs[5] == "matematicas: not an integer: 'abc'"
    assert errs[6] == "duplicate id 1 in this file (first at line 2, which is kept)"
    assert errs[7].startswith("programa: unknown program word 'Tecnico'")
    assert errs[8] == "id: not an integer: 'x'"
    assert all(i.file == str(path) for i in result.errors) and result.refused == 5


def test_csv_missing_a_column_is_not_taken(tmp_path):
    path = tmp_path / "nohead.csv"
    path.write_text("id,nombre,grado\n1,Ana,6\n", encoding="utf-8")
    result, rows = read(path, "csv")
    assert result.fatal and rows == {}
    assert result.errors[0].line == 1 and "lacks column(s) ciencias, ingles, matematicas, premios, programa" in result.errors[0].reason


def test_windows_1252_file_is_read_with_a_warning(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes((NOTAS_HEADER + "1,Ana,6,2,1,58,32,33\n2,José Muñoz,6,2,1,58,32,33\n").encode("cp1252"))
    result, rows = read(path)
    assert rows[2][1]["nombre"] == "José Muñoz"
    assert result.warnings[0].line == 3 and "not valid UTF-8" in result.warnings[0].reason


def test_detect_kind_of_the_school_files(seed_dir):
    assert detect_kind(seed_dir / "US_Dataset.csv") == "sql-dump"
    assert detect_kind(seed_dir / "US_Dataset_users.csv") == "users"
    assert detect_kind(seed_dir / "US_Dataset.xlsx") == "xlsx"
    assert detect_kind(seed_dir / "init.sql") == "sql-dump"


def test_unknown_file_kind_is_reported(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("hello,world\n1,2\n")
    result, rows = read(path)
    assert result.fatal and "--kind" in result.errors[0].reason
    result, _ = read(tmp_path / "missing.csv")
    assert result.fatal and result.errors[0].reason == "no such file"


def test_users_file(seed_dir):
    path = seed_dir / "US_Dataset_users.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        expected = {int(r["id"]): r for r in csv.DictReader(fh)}
    result, rows = read(path)
    assert result.kind == "users" and result.table == "usuarios" and not result.errors and not result.warnings
    assert sorted(rows) == sorted(expected) == list(range(1, 404))
    teachers = {i for i, r in expected.items() if r["rol"] == "Profesor"}
    assert teachers == {401, 402, 403}
    assert {i for i, (_, r) in rows.items() if r["rol"] == "profesor"} == teachers
    assert {r["rol"] for _, r in rows.values()} == {"estudiante", "profesor"}
    assert rows[55][1]["nombre"] == "Mario Muñoz"
    assert rows[55][1]["clave"] == "1234"  # plain here; only the writer hashes it


def test_users_file_errors(tmp_path):
    path = tmp_path / "u.csv"
    path.write_text("id,nombre,grado,clave,rol\n1,Ana,6,1234,Estudiante\n2,Bob,NULL,,Profesor\n3,Eve,7,1234,Rector\n",
                    encoding="utf-8")
    result, rows = read(path)
    assert list(rows) == [1]
    errs = {i.line: i.reason for i in result.errors}
    assert errs[3] == "clave: no password"
    assert errs[4].startswith("rol: unknown role 'Rector'")


def independent_xlsx(path: Path) -> dict[int, dict]:
    ws = openpyxl.load_workbook(path).worksheets[0]
    cells = [row[0] for row in ws.iter_rows(values_only=True)]
    header = cells[0].split(",")
    words = {"Academico": 0, "Vocacional": 1, "General": 3}
    out = {}
    for cell in cells[1:]:
        rec = dict(zip(header, cell.split(",")))
        out[int(rec["id"])] = {
            "nombre": rec["nombre"].encode("cp1252").decode("utf-8") if "Ã" in rec["nombre"] else rec["nombre"].strip(),
            "grado": int(rec["grado"]),
            "premios": int(rec["num_premios"]),
            "programa": words[rec["programa"]],
            "matematicas": int(rec["puntaje_mat"]),
        }
    return out


def test_xlsx_survey_export(seed_dir):
    path = seed_dir / "US_Dataset.xlsx"
    expected = independent_xlsx(path)
    result, rows = read(path)
    assert result.kind == "xlsx" and not result.errors
    assert sorted(rows) == list(range(1, 401))
    for i, exp in expected.items():
        line, rec = rows[i]
        assert line == i + 1  # the spreadsheet row (row 1 is the header)
        assert {k: rec[k] for k in exp} == exp
    assert rows[55][1]["nombre"] == "Mario Muñoz" and rows[84][1]["nombre"] == "Jesus Madroñero"
    assert result.repaired_names == 2
    assert not any("Ã" in rec["nombre"] for _, rec in rows.values())


def test_xlsx_crafted(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["id,nombre,grado,num_premios,programa,puntaje_mat,puntaje_ing,puntaje_ciencias"])
    ws.append(["1,JosÃ© PÃ©rez,6,0,Academico,41,50,33"])
    ws.append(["2,Ana,6,0,Tecnico,41,50,33"])
    ws.append(["3,Ana,6,0,General,41,50"])
    path = tmp_path / "s.xlsx"
    wb.save(path)
    result, rows = read(path)
    assert list(rows) == [1] and rows[1][1]["nombre"] == "José Pérez" and rows[1][1]["programa"] == 0
    errs = {i.line: i.reason for i in result.errors}
    assert errs[3].startswith("programa: unknown program word 'Tecnico'")
    assert errs[4] == "bad arity: 7 fields, the header has 8"


def test_xlsx_columnar_sheet_and_broken_workbook(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(list(schema.NOTAS_COLUMNS))
    ws.append([7, "Lucía Peña", 8, 1, "Vocacional", 90, 80.0, None])
    path = tmp_path / "cols.xlsx"
    wb.save(path)
    result, rows = read(path)
    assert rows[7] == (2, {"id": 7, "nombre": "Lucía Peña", "grado": 8, "premios": 1, "programa": 1,
                           "matematicas": 90, "ingles": 80, "ciencias": None})
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    result, rows = read(broken)
    assert result.fatal and "not a readable XLSX" in result.errors[0].reason


@pytest.mark.parametrize("name", ["US_Dataset.csv", "US_Dataset.xlsx"])
def test_old_column_names_map_to_ours(seed_dir, name):
    _, rows = read(seed_dir / name)
    assert set(rows[1][1]) == set(schema.NOTAS_COLUMNS)
