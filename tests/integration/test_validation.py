"""Real Great Expectations runs (GX Core 1.24, pandas engine) on small Parquet snapshots.

The passing data is the school's own 400 students (``US_Dataset.csv``, parsed correctly);
defects are planted in copies of it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from caoskol import cleaning, schema, validation
from caoskol.validation import SuiteFileError, ValidationFailed

_TUPLE = re.compile(r"\((\d+), '(.*)', (\d+), (\d+), (\d+), (\d+), (\d+), (\d+)\)[,;]$")


@pytest.fixture(scope="module")
def seed_students(seed_dir: Path) -> pd.DataFrame:
    """The 400 rows of US_Dataset.csv (SQL tuples) as the raw snapshot's columns."""
    lines = (seed_dir / "US_Dataset.csv").read_text(encoding="utf-8").splitlines()[1:]
    rows = [_TUPLE.match(line.strip()).groups() for line in lines if line.strip()]
    df = pd.DataFrame(rows, columns=list(schema.NOTAS_COLUMNS))
    for col in schema.NOTAS_COLUMNS:
        df[col] = df[col].astype("string" if col == "nombre" else "Int64")
    roles = pd.read_csv(seed_dir / "US_Dataset_users.csv", dtype=str)
    role_by_id = dict(zip(roles["id"].astype(int), roles["rol"].str.lower()))
    df["rol"] = pd.array([role_by_id.get(int(i)) for i in df["id"]], dtype="string")
    assert len(df) == 400
    return df


def write_snapshot(run_dir: Path, kind: str, df: pd.DataFrame) -> Path:
    folder = run_dir / kind
    folder.mkdir(parents=True, exist_ok=True)
    df.to_parquet(folder / "part-00000.parquet", index=False)
    return run_dir


# --- the reviewed suite files ------------------------------------------------------------


def test_suite_files_agree_with_the_schema():
    raw = validation.load_suite_json("raw")
    clean = validation.load_suite_json("clean")
    by_key = lambda suite: {e["meta"]["clave"]: e for e in suite["expectations"]}  # noqa: E731
    r, c = by_key(raw), by_key(clean)

    assert r["columnas_presentes"]["kwargs"]["column_set"] == list(cleaning.RAW_COLUMNS)
    assert c["columnas_exactas"]["kwargs"]["column_list"] == list(schema.NOTAS_COLUMNS)
    for suite in (r, c):
        assert suite["programa_conocido"]["kwargs"]["value_set"] == sorted(schema.PROGRAMS)
        assert (suite["grado_en_rango"]["kwargs"]["min_value"], suite["grado_en_rango"]["kwargs"]["max_value"]) == (
            min(schema.GRADES),
            max(schema.GRADES),
        )
        for subject in schema.SUBJECTS:
            kw = suite[f"{subject}_en_rango"]["kwargs"]
            assert (kw["min_value"], kw["max_value"]) == (schema.SCORE_MIN, schema.SCORE_MAX)
    # Raw: only empty table, missing columns and non-integer types stop the run.
    assert {k for k, e in r.items() if e["meta"]["critical"]} == {"tabla_no_vacia", "columnas_presentes"} | {
        f"{col}_entero" for col in cleaning.INT_COLUMNS
    }
    assert r["grado_nulos"]["kwargs"]["mostly"] == 0.9
    assert r["ciencias_nulos"]["kwargs"]["mostly"] == 0.9
    # Clean: everything is critical and nothing is allowed a `mostly`.
    assert all(e["meta"]["critical"] for e in c.values())
    assert not any("mostly" in e["kwargs"] for e in c.values())


def test_suite_files_build_into_gx_suites_without_losing_expectations():
    for kind in ("raw", "clean"):
        suite = validation.build_suite(kind)
        assert len(suite.expectations) == len(validation.load_suite_json(kind)["expectations"])


@pytest.mark.parametrize("defect", ["unknown type", "misspelt argument", "critical without severity"])
def test_a_bad_suite_file_is_an_error_not_silently_dropped(tmp_path, monkeypatch, defect):
    # GX's ExpectationSuite(expectations=[...]) only logs an unknown expectation type and
    # drops it: the run would then validate less than the reviewed file says.
    data = validation.load_suite_json("raw")
    by_key = {e["meta"]["clave"]: e for e in data["expectations"]}
    if defect == "unknown type":
        by_key["grado_en_rango"]["type"] = "expect_column_values_to_be_nice"
        expected = "expect_column_values_to_be_nice"
    elif defect == "misspelt argument":
        by_key["grado_en_rango"]["kwargs"]["min_vlaue"] = by_key["grado_en_rango"]["kwargs"].pop("min_value")
        expected = "min_vlaue"
    else:
        by_key["grado_en_rango"]["meta"]["critical"] = True  # severity still "warning"
        expected = "disagrees with meta.critical"
    (tmp_path / "raw_suite.json").write_text(json.dumps(data), encoding="utf-8")
    monkeypatch.setenv("CAOSKOL_EXPECTATIONS_DIR", str(tmp_path))
    with pytest.raises(SuiteFileError, match=expected):
        validation.build_suite("raw")


# --- raw ---------------------------------------------------------------------------------


def test_raw_passing_data_writes_result_and_data_docs(tmp_path, seed_students):
    run = write_snapshot(tmp_path, "raw", seed_students)

    summary = validation.validate_raw(run)

    assert summary["success"] is True and summary["critical_success"] is True
    assert summary["rows"] == 400
    assert summary["expectations"]["tabla_no_vacia"] == {
        "type": "expect_table_row_count_to_be_between", "column": None, "critical": True,
        "success": True, "observed": 400, "unexpected_count": None,
        "unexpected_percent": None, "error": None,
    }
    assert summary["expectations"]["grado_nulos"]["unexpected_percent"] == 0.0
    json.dumps(summary)  # goes to ejecuciones.validacion_detalle as it is

    result = json.loads((run / "validation" / "raw.json").read_text(encoding="utf-8"))
    assert result["success"] is True
    assert result["suite_name"] == "caoskol_raw"
    assert len(result["results"]) == len(validation.load_suite_json("raw")["expectations"])

    index = Path(summary["docs_index"])
    assert index == run / "validation" / "docs" / "index.html"
    assert "caoskol_raw" in index.read_text(encoding="utf-8")
    pages = list((run / "validation" / "docs" / "validations" / "caoskol_raw").rglob("*.html"))
    assert len(pages) == 1


def test_raw_empty_table_raises_a_clear_message(tmp_path, seed_students):
    run = write_snapshot(tmp_path, "raw", seed_students.iloc[:0])

    with pytest.raises(ValidationFailed) as info:
        validation.validate_raw(run)

    message = str(info.value)
    assert "la tabla de origen está vacía (0 filas)" in message
    assert "the source table is empty (0 rows)" in message
    assert info.value.summary["failed_critical"] == ["tabla_no_vacia"]
    # The evidence is kept even when the run stops.
    assert json.loads((run / "validation" / "raw.json").read_text())["success"] is False
    assert (run / "validation" / "docs" / "index.html").exists()


def test_raw_folder_without_part_files_is_an_empty_table(tmp_path):
    (tmp_path / "raw").mkdir()
    with pytest.raises(ValidationFailed, match=r"la tabla de origen está vacía \(0 filas\)"):
        validation.validate_raw(tmp_path)


def test_raw_missing_column_and_wrong_type_raise(tmp_path, seed_students):
    bad = seed_students.drop(columns=["rol"])
    bad["ciencias"] = bad["ciencias"].astype("float64") / 2
    run = write_snapshot(tmp_path, "raw", bad)

    with pytest.raises(ValidationFailed) as info:
        validation.validate_raw(run)

    message = str(info.value)
    assert "faltan columnas en la tabla de origen (faltan: rol)" in message
    assert "la columna ciencias no es entera" in message
    assert info.value.summary["failed_critical"] == ["columnas_presentes", "ciencias_entero"]


def test_raw_soft_failures_are_recorded_but_do_not_raise(tmp_path, seed_students):
    bad = seed_students.copy()
    bad.loc[0, "grado"] = 13
    bad.loc[1, "id"] = 3  # id 3 now twice
    bad.loc[2, "matematicas"] = 150
    bad.loc[10:59, "grado"] = pd.NA  # 12.5% without grade: above the 10% tolerance
    bad.loc[100:109, "ciencias"] = pd.NA  # 2.5% without science: within it
    bad.loc[4, "programa"] = 7
    bad.loc[5, "rol"] = "profesor"
    run = write_snapshot(tmp_path, "raw", bad)

    summary = validation.validate_raw(run)

    assert summary["success"] is False
    assert summary["critical_success"] is True
    assert summary["failed_critical"] == []
    assert sorted(summary["failed_soft"]) == sorted(
        ["id_unico", "grado_en_rango", "grado_nulos", "matematicas_en_rango",
         "programa_conocido", "solo_estudiantes"]
    )
    exp = summary["expectations"]
    assert exp["grado_nulos"]["unexpected_count"] == 50
    assert exp["grado_nulos"]["unexpected_percent"] == pytest.approx(12.5)
    assert exp["ciencias_nulos"]["success"] is True
    assert exp["ciencias_nulos"]["unexpected_percent"] == pytest.approx(2.5)
    assert exp["id_unico"]["unexpected_count"] == 2
    assert exp["programa_conocido"]["unexpected_count"] == 1

    result = json.loads((run / "validation" / "raw.json").read_text(encoding="utf-8"))
    by_key = {r["expectation_config"]["meta"]["clave"]: r for r in result["results"]}
    assert by_key["grado_en_rango"]["result"]["partial_unexpected_list"] == [13]
    # programa is confidential: its values never reach the result or the docs.
    programa = by_key["programa_conocido"]["result"]
    assert programa["unexpected_count"] == 1
    assert not {"partial_unexpected_list", "partial_unexpected_counts", "partial_unexpected_index_list"} & set(programa)
    stored = next((run / "validation" / "gx_results" / "caoskol_raw").rglob("*.json")).read_text()
    assert "partial_unexpected_counts" in stored  # other expectations keep theirs
    stored_programa = [r for r in json.loads(stored)["results"]
                       if r["expectation_config"]["kwargs"].get("column") == "programa"]
    assert all("partial_unexpected_list" not in r["result"] for r in stored_programa)


def test_a_retried_validation_replaces_the_previous_attempt_in_the_docs(tmp_path, seed_students):
    run = write_snapshot(tmp_path, "raw", seed_students)
    validation.validate_raw(run)
    validation.validate_raw(run)
    assert len(list((run / "validation" / "gx_results" / "caoskol_raw").rglob("*.json"))) == 1
    assert len(list((run / "validation" / "docs" / "validations" / "caoskol_raw").rglob("*.html"))) == 1


# --- clean -------------------------------------------------------------------------------


def test_clean_output_of_the_policy_passes_the_strict_suite(tmp_path, seed_students):
    raw = seed_students.copy()
    raw.loc[0, "grado"] = pd.NA  # soft: kept
    raw.loc[1, "ciencias"] = pd.NA  # soft: kept
    raw.loc[2, "programa"] = pd.NA  # soft: kept
    raw.loc[3, "grado"] = 13  # hard: quarantined
    run = write_snapshot(tmp_path, "raw", raw)

    validation.validate_raw(run)
    counts = cleaning.clean_run(run)
    summary = validation.validate_clean(run)

    assert counts == {"read": 400, "clean": 399, "quarantined": 1,
                      "by_reason": {"grado fuera de rango 6-12": 1}}
    assert summary["success"] is True and summary["rows"] == 399
    assert json.loads((run / "validation" / "clean.json").read_text())["success"] is True
    index = (run / "validation" / "docs" / "index.html").read_text(encoding="utf-8")
    assert "caoskol_raw" in index and "caoskol_clean" in index


def test_clean_suite_raises_on_one_out_of_range_value(tmp_path, seed_students):
    clean, _ = cleaning.apply_policy(seed_students)
    clean.loc[7, "matematicas"] = 101
    run = write_snapshot(tmp_path, "clean", clean)

    with pytest.raises(ValidationFailed) as info:
        validation.validate_clean(run)

    assert str(info.value) == (
        "la validación de los datos limpios falló / clean data validation failed [caoskol_clean]: "
        "hay puntajes de matematicas fuera de 0-100 (1 de 400 filas, 0.25%) / "
        "some matematicas scores are outside 0-100 (1 of 400 rows, 0.25%)"
    )
    assert info.value.summary["failed_critical"] == ["matematicas_en_rango"]
    assert json.loads((run / "validation" / "clean.json").read_text())["success"] is False


def test_clean_suite_rejects_the_rol_column(tmp_path, seed_students):
    run = write_snapshot(tmp_path, "clean", seed_students)  # still has rol
    with pytest.raises(ValidationFailed, match="rol must be absent"):
        validation.validate_clean(run)


def test_importing_validation_does_not_import_great_expectations():
    import subprocess
    import sys

    code = "import sys, caoskol.validation, caoskol.cleaning; print('great_expectations' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
