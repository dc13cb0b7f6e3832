"""The SQL reader (no database): tokenizing, line numbers, and what it refuses and why."""

from __future__ import annotations

import re
import statistics
from pathlib import Path

from caoskol.loaders import read_records

HEADER = "INSERT INTO notas (id, nombre, grado, num_premios, programa, puntaje_mat, puntaje_ing, puntaje_ciencias) VALUES\n"


def read(path: Path, kind: str = "auto"):
    result, records = read_records(path, kind)
    rows = {rec["id"]: (line, rec) for line, rec in records}
    return result, rows


def write(tmp_path: Path, text: str, name: str = "dump.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def errors(result):
    return [(i.line, i.reason) for i in result.errors]


def test_literals_escapes_nulls_and_comments(tmp_path):
    path = write(
        tmp_path,
        "-- a dump\n# another comment\n/* block\ncomment */\n"
        "INSERT INTO `notas` (`id`, nombre, grado, premios, programa, matematicas, ingles, ciencias) VALUES\n"
        "(1, 'O\\'Brien', 6, 2, 1, 58, 32, 33),\n"
        "(2, 'D''Angelo, Ana', NULL, 0, 3, -5, 140, NULL),\n"
        "(3,\n 'Multi Line', 7, 1, 0, 1, 2, 3), /* inline */ (4, \"Dq \"\"Name\"\"\", 8, 1, 0, 1, 2, 3);\n",
    )
    result, rows = read(path)
    assert not result.errors and not result.fatal
    assert rows[1] == (6, {"id": 1, "nombre": "O'Brien", "grado": 6, "premios": 2, "programa": 1,
                           "matematicas": 58, "ingles": 32, "ciencias": 33})
    line, rec = rows[2]
    assert line == 7 and rec["nombre"] == "D'Angelo, Ana" and rec["grado"] is None and rec["ciencias"] is None
    assert (rec["matematicas"], rec["ingles"]) == (-5, 140)  # out of range is kept
    assert rows[3][0] == 8 and rows[3][1]["nombre"] == "Multi Line"
    assert rows[4][0] == 9 and rows[4][1]["nombre"] == 'Dq "Name"'


def test_columns_come_from_the_column_list(tmp_path):
    path = write(tmp_path, "INSERT INTO notas (ciencias, nombre, id, ingles, matematicas, programa, premios, grado)"
                           " VALUES (33, 'Ana', 7, 32, 58, 1, 2, 6);")
    result, rows = read(path)
    assert rows[7][1] == {"id": 7, "nombre": "Ana", "grado": 6, "premios": 2, "programa": 1,
                          "matematicas": 58, "ingles": 32, "ciencias": 33}


def test_bad_rows_are_reported_with_their_line(tmp_path):
    path = write(
        tmp_path,
        HEADER
        + "(1, 'Ok', 6, 2, 1, 58, 32, 33),\n"
        + "(2, 'Short', 6, 2, 1, 58, 32),\n"
        + "(3, 'Float', 6, 2, 1, 58.5, 32, 33),\n"
        + "(4, 'Word', 6, 2, 'Tecnico', 58, 32, 33),\n"
        + "(1, 'Again', 6, 2, 1, 58, 32, 33),\n"
        + "(5, 'Expr', 6, 2, 1, NOW(), 32, 33),\n"
        + "(6, NULL, 6, 2, 1, 58, 32, 33),\n"
        + "(7, 'Fine', 7, 0, 3, 100, 20, 40);\n",
    )
    result, rows = read(path)
    assert sorted(rows) == [1, 7]
    errs = dict(errors(result))
    assert "bad arity: 7 values, the column list at line 1 has 8" in errs[3]
    assert "matematicas: not an integer: Decimal('58.5')" in errs[4]
    assert "programa: unknown program word 'Tecnico'" in errs[5]
    assert errs[6] == "duplicate id 1 in this file (first at line 2, which is kept)"
    assert "not a list of literal values" in errs[7]
    assert "nombre: no name" in errs[8]
    assert result.refused == 6 and not result.fatal


def test_statement_with_unknown_or_missing_columns_is_refused_whole(tmp_path):
    path = write(tmp_path, "INSERT INTO notas (id, nombre, grado, clave) VALUES\n(1, 'A', 6, '1234'),\n(2, 'B', 7, '1234');\n"
                           "INSERT INTO notas VALUES (3, 'C', 6, 2, 1, 58, 32, 33);\n")
    result, rows = read(path)
    assert rows == {}
    (l1, r1), (l2, r2) = errors(result)
    assert l1 == 1 and "clave that notas does not have" in r1 and "its 2 rows are refused" in r1
    assert l2 == 4 and "no column list" in r2 and "its 1 rows" in r2
    assert result.refused == 3


def test_other_statements_are_not_executed_but_reported(tmp_path):
    path = write(tmp_path, "DROP TABLE notas;\nINSERT INTO usuarios (id) VALUES (1);\n" + HEADER + "(1, 'A', 6, 2, 1, 58, 32, 33);")
    result, rows = read(path)
    assert list(rows) == [1]
    reasons = [(w.line, w.reason) for w in result.warnings]
    assert reasons[0][0] == 1 and "statement not executed: DROP TABLE notas" in reasons[0][1]
    assert reasons[1] == (2, "INSERT INTO usuarios not taken: only INSERT INTO notas is read")


def test_broken_structure_means_nothing_is_taken(tmp_path):
    unterminated = write(tmp_path, HEADER + "(1, 'A', 6, 2, 1, 58, 32, 33),\n(2, 'B, 6, 2, 1, 58, 32, 33);\n", "u.sql")
    result, _ = read(unterminated)
    assert result.fatal and (3, "string opened here is never closed") in errors(result)

    stray = write(tmp_path, HEADER + "(1, 'A', 6, 2, 1, 58, 32, 33);\n*/\n", "s.sql")
    result, rows = read(stray)
    assert result.fatal and errors(result)[0][0] == 3 and "'*/' closes no comment" in errors(result)[0][1]

    open_comment = write(tmp_path, "/* never closed\n" + HEADER, "c.sql")
    result, _ = read(open_comment)
    assert result.fatal and errors(result) == [(1, "comment opened here is never closed")]


def test_truncated_dump_keeps_complete_tuples_and_warns(tmp_path):
    path = write(tmp_path, HEADER + "(1, 'A', 6, 2, 1, 58, 32, 33),\n(2, 'B', 6, 2, 1, 58, 32, 33)")
    result, rows = read(path)
    assert sorted(rows) == [1, 2] and not result.errors
    assert "not ended by ';'" in result.warnings[0].reason


# --- the school's files -----------------------------------------------------------------

TUPLE = re.compile(r"^\((\d+), '([^']*)', (\d+), (\d+), (\d+), (\d+), (\d+), (\d+)\)[,;]$")


def independent_parse(path: Path) -> dict[int, tuple]:
    lines = path.read_text(encoding="utf-8").splitlines()
    out = {}
    for line in lines[1:]:
        m = TUPLE.match(line)
        assert m, line
        g = m.groups()
        # Names are trimmed on load (id 128 is '  Odiseo Itaca' in the file).
        out[int(g[0])] = (g[1].strip(),) + tuple(int(x) for x in g[2:])
    return out


def test_us_dataset_dump_matches_an_independent_parse(seed_dir):
    path = seed_dir / "US_Dataset.csv"
    expected = independent_parse(path)
    result, rows = read(path)
    assert result.kind == "sql-dump" and not result.errors and not result.fatal
    got = {i: (r["nombre"], r["grado"], r["premios"], r["programa"], r["matematicas"], r["ingles"], r["ciencias"])
           for i, (_, r) in rows.items()}
    assert got == expected
    # The README's facts.
    assert sorted(rows) == list(range(1, 401))
    assert {r["grado"] for _, r in rows.values()} <= set(range(6, 13))
    assert {r["premios"] for _, r in rows.values()} <= {0, 1, 2, 3}
    scores = [r[s] for _, r in rows.values() for s in ("matematicas", "ingles", "ciencias")]
    assert None not in scores and min(scores) == 20 and max(scores) == 100
    assert statistics.fmean(r["matematicas"] for _, r in rows.values()) == 60.3775
    # The two names whose letter was lost: loaded, warned with file, line and id.
    warned = {(w.line, w.id) for w in result.warnings}
    assert warned == {(56, 55), (85, 84)}
    assert all(w.file == str(path) and "U+FFFD" in w.reason for w in result.warnings)
    assert rows[55][1]["nombre"] == "Mario Mu\ufffdoz"


def test_init_sql_is_not_taken_and_says_why(seed_dir):
    path = seed_dir / "init.sql"
    result, rows = read(path)
    assert result.kind == "sql-dump" and result.fatal
    errs = errors(result)
    # The 5 sample rows (lines 27-31) and the real block (from line 67) share ids 2..6.
    for k, student in enumerate(range(2, 7)):
        assert (68 + k, f"duplicate id {student} in this file (first at line {27 + k}, which is kept)") in errs
    clave = [r for line, r in errs if line == 469]
    assert clave and "clave that notas does not have" in clave[0] and "403 rows" in clave[0]
    stray = [r for line, r in errs if line == 872]
    assert stray and "closes no comment" in stray[0] and "opened at line 44" in stray[0] and "line 65" in stray[0]
    assert any(w.line == 65 and "does not nest" in w.reason for w in result.warnings)
    assert any(w.line == 1 and "DROP TABLE" in w.reason for w in result.warnings)


def test_unreadable_rest_of_a_statement_is_refused_and_counted(tmp_path):
    path = write(tmp_path, HEADER + "(1, 'A', 6, 2, 1, 58, 32, 33) garbage (2, 'B', 6, 2, 1, 58, 32, 33),\n"
                                    "(3, 'C', 6, 2, 1, 58, 32, 33);\n" + HEADER + "(4, 'D', 6, 2, 1, 58, 32, 33);")
    result, rows = read(path)
    assert sorted(rows) == [1, 4]
    (line, reason), = errors(result)
    assert line == 2 and "unexpected 'garbage' after a tuple" in reason and "(2 rows) is refused" in reason
    assert result.refused == 2
