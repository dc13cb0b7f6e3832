"""The cleaning policy (docs/CLEANING_POLICY.md), rule by rule, with expected outputs
written out by hand."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from caoskol import cleaning, schema
from caoskol.cleaning import CleaningError, apply_policy, clean_run, count_reasons

RAW = ["id", "nombre", "grado", "premios", "programa", "matematicas", "ingles", "ciencias", "rol"]
NA = None


def raw_frame(rows: list[tuple]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=RAW)
    for col in RAW:
        df[col] = df[col].astype("string" if col in ("nombre", "rol") else "Int64")
    return df


def clean_frame(rows: list[tuple]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=list(schema.NOTAS_COLUMNS))
    for col in schema.NOTAS_COLUMNS:
        df[col] = df[col].astype("string" if col == "nombre" else "Int64")
    return df


def motivos(raw_rows: list[tuple]) -> list[str]:
    _, quarantine = apply_policy(raw_frame(raw_rows))
    return list(quarantine["motivo"])


GOOD = (1, "Adan Sanchez", 6, 2, 1, 58, 32, 33, "estudiante")


def test_raw_columns_are_the_contract():
    assert list(cleaning.RAW_COLUMNS) == RAW


def test_valid_rows_pass_unchanged_with_exact_columns_and_types():
    clean, quarantine = apply_policy(
        raw_frame([GOOD, (2, "Eva Gutierrez", 12, 0, 3, 0, 100, 64, None)])
    )
    expected = clean_frame(
        [(1, "Adan Sanchez", 6, 2, 1, 58, 32, 33), (2, "Eva Gutierrez", 12, 0, 3, 0, 100, 64)]
    )
    assert_frame_equal(clean, expected)
    assert list(clean.columns) == list(schema.NOTAS_COLUMNS)
    assert "rol" not in clean.columns
    assert quarantine.empty
    assert list(quarantine.columns) == ["id_origen", "motivo", "datos"]


def test_id_missing():
    assert motivos([(NA, "Sin Id", 7, 1, 0, 50, 50, 50, "estudiante")]) == ["id ausente"]


def test_all_rows_of_a_duplicated_id_are_quarantined():
    clean, quarantine = apply_policy(
        raw_frame(
            [
                (5, "Primera", 6, 1, 0, 50, 50, 50, "estudiante"),
                (6, "Unica", 6, 1, 0, 50, 50, 50, "estudiante"),
                (5, "Segunda", 7, 1, 0, 60, 60, 60, "estudiante"),
                (5, "Tercera", 8, 1, 0, 70, 70, 70, None),
            ]
        )
    )
    assert list(clean["id"]) == [6]
    assert list(quarantine["id_origen"]) == ["5", "5", "5"]
    assert list(quarantine["motivo"]) == ["id duplicado"] * 3


def test_duplicates_known_from_the_whole_snapshot_apply_to_a_chunk():
    chunk = raw_frame([(5, "Segunda", 7, 1, 0, 60, 60, 60, "estudiante"), GOOD])
    clean, quarantine = apply_policy(chunk, duplicate_ids=[5, 99])
    assert list(clean["id"]) == [1]
    assert list(quarantine["motivo"]) == ["id duplicado"]


def test_grade_out_of_range_and_bounds():
    rows = [
        (1, "a", 13, 1, 0, 50, 50, 50, "estudiante"),
        (2, "b", 5, 1, 0, 50, 50, 50, "estudiante"),
        (3, "c", 6, 1, 0, 50, 50, 50, "estudiante"),
        (4, "d", 12, 1, 0, 50, 50, 50, "estudiante"),
    ]
    clean, quarantine = apply_policy(raw_frame(rows))
    assert list(clean["id"]) == [3, 4]
    assert list(quarantine["motivo"]) == [
        "grado fuera de rango 6-12: 13",
        "grado fuera de rango 6-12: 5",
    ]


@pytest.mark.parametrize("subject", schema.SUBJECTS)
def test_score_out_of_range_each_subject(subject):
    def row(ident, value):
        scores = {s: 50 for s in schema.SUBJECTS}
        scores[subject] = value
        return (ident, "x", 8, 1, 0, scores["matematicas"], scores["ingles"], scores["ciencias"], None)

    clean, quarantine = apply_policy(raw_frame([row(1, 150), row(2, -1), row(3, 0), row(4, 100)]))
    assert list(clean["id"]) == [3, 4]
    assert list(quarantine["motivo"]) == [
        f"puntaje fuera de rango 0-100: {subject}=150",
        f"puntaje fuera de rango 0-100: {subject}=-1",
    ]


def test_awards_null_or_negative():
    rows = [
        (1, "a", 8, NA, 0, 50, 50, 50, None),
        (2, "b", 8, -1, 0, 50, 50, 50, None),
        (3, "c", 8, 0, 0, 50, 50, 50, None),
    ]
    clean, quarantine = apply_policy(raw_frame(rows))
    assert list(clean["id"]) == [3]
    assert list(quarantine["motivo"]) == ["premios negativos o ausentes"] * 2


def test_unknown_program_never_reveals_the_value():
    clean, quarantine = apply_policy(raw_frame([(9, "Mario Muñoz", 8, 1, 7, 50, 50, 50, "estudiante")]))
    assert clean.empty
    (motivo,) = quarantine["motivo"]
    (datos,) = quarantine["datos"]
    assert motivo == "programa desconocido"
    assert "7" not in motivo
    assert "programa" not in json.loads(datos)
    assert datos == (
        '{"id": 9, "nombre": "Mario Muñoz", "grado": 8, "premios": 1, '
        '"matematicas": 50, "ingles": 50, "ciencias": 50, "rol": "estudiante"}'
    )


def test_known_program_is_not_in_quarantine_data_either():
    _, quarantine = apply_policy(raw_frame([(9, "Ana", 13, 1, 3, 50, 50, 50, "estudiante")]))
    assert json.loads(quarantine["datos"][0]) == {
        "id": 9, "nombre": "Ana", "grado": 13, "premios": 1,
        "matematicas": 50, "ingles": 50, "ciencias": 50, "rol": "estudiante",
    }


def test_teachers_and_administrators_are_not_students():
    rows = [
        (1, "Profe", NA, 0, NA, 50, 50, 50, "profesor"),
        (2, "Admin", NA, 0, NA, 50, 50, 50, "administrador"),
        (3, "Sin cuenta", 7, 0, 0, 50, 50, 50, None),
        (4, "Mayusculas", 7, 0, 0, 50, 50, 50, " Estudiante "),
    ]
    clean, quarantine = apply_policy(raw_frame(rows))
    assert list(clean["id"]) == [3, 4]
    assert list(quarantine["motivo"]) == [
        "no es estudiante: rol profesor",
        "no es estudiante: rol administrador",
    ]


def test_several_reasons_are_joined_in_policy_order():
    row = (NA, "Todo mal", 13, -2, 9, 150, -1, 50, "profesor")
    assert motivos([row]) == [
        "id ausente; no es estudiante: rol profesor; grado fuera de rango 6-12: 13; "
        "puntaje fuera de rango 0-100: matematicas=150; "
        "puntaje fuera de rango 0-100: ingles=-1; "
        "premios negativos o ausentes; programa desconocido"
    ]


def test_null_grade_science_and_program_are_kept():
    rows = [
        (1, "Sin grado", NA, 1, 0, 50, 50, 50, "estudiante"),
        (2, "Sin ciencias", 9, 1, 0, 50, 50, NA, "estudiante"),
        (3, "Sin programa", 9, 1, NA, NA, 70, 80, None),
    ]
    clean, quarantine = apply_policy(raw_frame(rows))
    assert quarantine.empty
    expected = clean_frame(
        [
            (1, "Sin grado", NA, 1, 0, 50, 50, 50),
            (2, "Sin ciencias", 9, 1, 0, 50, 50, NA),
            (3, "Sin programa", 9, 1, NA, NA, 70, 80),
        ]
    )
    assert_frame_equal(clean, expected)


def test_quarantine_keeps_null_id_as_null_and_data_readable():
    _, quarantine = apply_policy(raw_frame([(NA, "Mario Muñoz", NA, 1, 1, 50, 50, NA, None)]))
    assert pd.isna(quarantine["id_origen"][0])
    assert quarantine["datos"][0] == (
        '{"id": null, "nombre": "Mario Muñoz", "grado": null, "premios": 1, '
        '"matematicas": 50, "ingles": 50, "ciencias": null, "rol": null}'
    )


def test_input_is_not_modified():
    raw = raw_frame([GOOD, (NA, "x", 13, 1, 0, 50, 50, 50, None)])
    before = raw.copy()
    apply_policy(raw)
    assert_frame_equal(raw, before)


def test_count_reasons_counts_rows_per_kind():
    _, quarantine = apply_policy(
        raw_frame(
            [
                (1, "a", 13, 1, 0, 150, -1, 50, None),
                (2, "b", 14, 1, 0, 50, 50, 50, None),
                (3, "c", 8, NA, 0, 50, 50, 50, "profesor"),
            ]
        )
    )
    assert count_reasons(quarantine) == {
        "grado fuera de rango 6-12": 2,
        "no es estudiante": 1,
        "premios negativos o ausentes": 1,
        "puntaje fuera de rango 0-100": 1,
    }


def test_missing_column_is_an_error():
    with pytest.raises(CleaningError, match="rol"):
        apply_policy(raw_frame([GOOD]).drop(columns=["rol"]))


@pytest.mark.parametrize("dtype", ["Float64", "float64"])
def test_non_integer_values_are_an_error_not_a_guess(dtype):
    # pandas 3.1 casts Float64 58.5 to Int64 58 without a word; the policy must not.
    raw = raw_frame([GOOD])
    raw["matematicas"] = pd.Series([58.5], dtype=dtype)
    with pytest.raises(CleaningError, match="matematicas"):
        apply_policy(raw)


def test_whole_floats_are_accepted_as_integers():
    raw = raw_frame([GOOD, (2, "b", 7, 1, 0, 50, 50, 50, None)])
    raw["grado"] = pd.Series([6.0, float("nan")], dtype="float64")
    clean, _ = apply_policy(raw)
    assert clean["grado"].dtype == "Int64"
    assert clean["grado"].tolist() == [6, pd.NA]


def test_clean_run_streams_parts_and_finds_duplicates_across_them(tmp_path):
    raw_dir = tmp_path / "raw"
    raw_dir.mkdir()
    raw_frame(
        [
            GOOD,
            (2, "Eva", 7, 1, 3, 46, 51, NA, "estudiante"),
            (3, "Dup uno", 8, 1, 0, 50, 50, 50, "estudiante"),
        ]
    ).to_parquet(raw_dir / "part-00000.parquet", index=False)
    raw_frame(
        [
            (3, "Dup dos", 8, 1, 0, 50, 50, 50, "estudiante"),
            (4, "Mario Muñoz", NA, 0, 1, 99, 100, 0, None),
            (5, "Profe", NA, 0, NA, 50, 50, 50, "profesor"),
        ]
    ).to_parquet(raw_dir / "part-00001.parquet", index=False)
    (tmp_path / "clean").mkdir()
    (tmp_path / "clean" / "part-00007.parquet").write_bytes(b"stale attempt")

    counts = clean_run(tmp_path, batch_rows=2)

    assert counts == {
        "read": 6,
        "clean": 3,
        "quarantined": 3,
        "by_reason": {"id duplicado": 2, "no es estudiante": 1},
    }
    assert sorted(p.name for p in (tmp_path / "clean").iterdir()) == ["part-00000.parquet"]
    clean = pd.read_parquet(tmp_path / "clean" / "part-00000.parquet")
    assert_frame_equal(
        clean,
        clean_frame(
            [
                (1, "Adan Sanchez", 6, 2, 1, 58, 32, 33),
                (2, "Eva", 7, 1, 3, 46, 51, NA),
                (4, "Mario Muñoz", NA, 0, 1, 99, 100, 0),
            ]
        ),
    )
    quarantine = pd.read_parquet(tmp_path / "quarantine" / "part-00000.parquet")
    assert list(quarantine["id_origen"]) == ["3", "3", "5"]
    assert list(quarantine["motivo"]) == ["id duplicado", "id duplicado", "no es estudiante: rol profesor"]
    assert all("programa" not in json.loads(d) for d in quarantine["datos"])


def test_clean_run_on_an_empty_snapshot_writes_empty_outputs(tmp_path):
    (tmp_path / "raw").mkdir()
    raw_frame([]).to_parquet(tmp_path / "raw" / "part-00000.parquet", index=False)
    assert clean_run(tmp_path) == {"read": 0, "clean": 0, "quarantined": 0, "by_reason": {}}
    clean = pd.read_parquet(tmp_path / "clean" / "part-00000.parquet")
    assert list(clean.columns) == list(schema.NOTAS_COLUMNS) and clean.empty
    assert pd.read_parquet(tmp_path / "quarantine" / "part-00000.parquet").empty
