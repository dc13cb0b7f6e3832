"""The synthetic generator: determinism, shape, defect rates, bounded memory."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import ftfy
import pandas as pd
import pytest

from caoskol import schema
from caoskol.synthetic import (
    FIRST_NAMES,
    NOTAS_FILE,
    SURNAMES,
    USERS_COLUMNS,
    USERS_FILE,
    DefectRates,
    generate,
    mojibake,
)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_seed_same_bytes_different_seed_different(tmp_path):
    a = generate(tmp_path / "a", 250_000, seed=11, users=True, password="demo-pass")
    b = generate(tmp_path / "b", 250_000, seed=11, users=True, password="demo-pass")
    c = generate(tmp_path / "c", 250_000, seed=12)
    assert digest(tmp_path / "a" / NOTAS_FILE) == digest(tmp_path / "b" / NOTAS_FILE)
    assert digest(tmp_path / "a" / USERS_FILE) == digest(tmp_path / "b" / USERS_FILE)
    assert digest(tmp_path / "a" / NOTAS_FILE) != digest(tmp_path / "c" / NOTAS_FILE)
    assert a.as_dict() | {"files": {}} == b.as_dict() | {"files": {}}


def test_shape_like_the_school_without_defects(tmp_path):
    generate(tmp_path, 20_000, seed=1, rates=DefectRates(0, 0, 0, 0, 0))
    df = pd.read_csv(tmp_path / NOTAS_FILE, keep_default_na=False)
    assert tuple(df.columns) == schema.NOTAS_COLUMNS
    assert df["id"].tolist() == list(range(1, 20_001))
    assert set(df["grado"]) == set(range(6, 13))
    assert set(df["premios"]) == {0, 1, 2, 3}
    assert set(df["programa"]) == {0, 1, 3}
    for subject in schema.SUBJECTS:
        assert df[subject].between(20, 100).all() and df[subject].dtype.kind == "i"
        assert abs(df[subject].mean() - 60) < 1
    # Lower grades are the larger ones, as at the school.
    counts = df["grado"].value_counts()
    assert counts[6] > counts[12]
    assert df["nombre"].str.contains("ñ").any() and df["nombre"].str.contains("[áéíóú]").any()
    assert df["nombre"].duplicated().any()  # names repeat; ids identify students


def test_defect_rates_roughly_honoured(tmp_path):
    rates = DefectRates(null_grade=0.05, null_science=0.04, out_of_range=0.03, duplicate_id=0.02, mojibake=0.06)
    n = 200_000
    summary = generate(tmp_path, n, seed=5, rates=rates)
    df = pd.read_csv(tmp_path / NOTAS_FILE, dtype={"nombre": str})
    assert len(df) == summary.rows == n + summary.duplicate_id
    for name in ("null_grade", "null_science", "out_of_range", "duplicate_id", "mojibake"):
        rate = getattr(rates, name)
        assert abs(getattr(summary, name) - rate * n) < 5 * (rate * n) ** 0.5 + 10, name
    # The file holds what the summary says (measured independently from the CSV).
    assert df["grado"].isna().sum() == summary.null_grade
    assert df["ciencias"].isna().sum() == summary.null_science
    scores = df[list(schema.SUBJECTS)]
    assert ((scores < 0) | (scores > 100)).any(axis=1).sum() == summary.out_of_range
    assert df["id"].duplicated().sum() == summary.duplicate_id
    assert set(df["id"]) == set(range(1, n + 1))
    broken = df["nombre"].map(lambda s: ftfy.fix_encoding(s) != s)
    assert broken.sum() == summary.mojibake


def test_every_name_survives_mojibake_repair():
    for first in FIRST_NAMES:
        for last in SURNAMES:
            name = f"{first} {last}"
            assert not set(name) & set(',"\r\n')  # written unquoted in the CSV
            assert ftfy.fix_encoding(name) == name  # a correct name is left alone
            assert ftfy.fix_encoding(mojibake(name)) == name


def test_users_file(tmp_path):
    summary = generate(tmp_path, 1000, seed=2, users=True, teachers=4)
    path = tmp_path / USERS_FILE
    assert (path.stat().st_mode & 0o777) == 0o600  # plain passwords inside
    users = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert tuple(users.columns) == USERS_COLUMNS
    assert users["id"].astype(int).tolist() == list(range(1, 1006))
    assert users["rol"].value_counts().to_dict() == {"Estudiante": 1000, "Profesor": 4, "Administrador": 1}
    assert (users.loc[users["rol"] != "Estudiante", "grado"] == "").all()
    assert users["clave"].str.len().min() >= 12 and users["clave"].nunique() == 1005  # random by default
    notas = pd.read_csv(tmp_path / NOTAS_FILE, dtype=str, keep_default_na=False)
    first = notas.drop_duplicates("id").set_index("id")
    students = users[users["rol"] == "Estudiante"].set_index("id")
    # The users file carries the correct spelling of a mojibake name in notas.
    assert (first["nombre"].map(ftfy.fix_encoding) == students["nombre"]).all()
    assert summary.teachers == 4 and summary.administrators == 1


def test_zero_students_and_bad_rates(tmp_path):
    summary = generate(tmp_path, 0, seed=1)
    assert (tmp_path / NOTAS_FILE).read_text() == ",".join(schema.NOTAS_COLUMNS) + "\n" and summary.rows == 0
    with pytest.raises(ValueError):
        DefectRates(null_grade=1.5)


def test_one_million_rows_in_bounded_memory(tmp_path):
    code = (
        "import json, sys\n"
        "from caoskol.synthetic import generate\n"
        "s = generate(sys.argv[1], 1_000_000, seed=3, users=True, password='x' * 8)\n"
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a child forked from
        # a large pytest process would report the parent's size.
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1]\n"
        "print(json.dumps({'rows': s.rows, 'maxrss_kb': int(hwm)}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True,
                         timeout=300, env={**os.environ})
    stats = json.loads(out.stdout)
    assert stats["rows"] >= 1_000_000
    assert stats["maxrss_kb"] < 300 * 1024, stats
    with (tmp_path / NOTAS_FILE).open("rb") as fh:
        assert sum(1 for _ in fh) == stats["rows"] + 1
