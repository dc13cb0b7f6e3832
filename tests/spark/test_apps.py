"""The spark-submit entry points, run for real, and the read/write helpers they use.

The two spark-submit tests submit exactly what the DAG submits (``caoskol.spark_submit``:
the package zipped for --py-files, the same arguments and conf), from a working directory
outside the checkout, and read the Parquet outputs back with pyarrow - which shows true
NULLs (pandas' default reader would show NULL floats as NaN).
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from caoskol import config, schema, spark_submit
from caoskol.spark import CORRELATIONS_OUTPUTS, STATISTICS_OUTPUTS, read_students, report_columns, write_tables
from caoskol.spark.correlations import correlaciones
from caoskol.spark.statistics import estadisticas, statistics_tables

SPARK_SUBMIT = Path(sys.executable).with_name("spark-submit")
KEYS = {
    "estadisticas": ("ambito", "grado", "variable"),
    "estudiantes_por_grado": ("grado",),
    "distribucion_premios": ("ambito", "grado", "premios"),
    "histogramas": ("ambito", "grado", "materia", "puntaje"),
    "agregados_programa": ("programa", "variable"),
}


def small_school() -> pd.DataFrame:
    """24 students as ``clean`` writes them: nullable Int64 columns, NULL grade and science."""
    rows = []
    for i in range(1, 25):
        grado = None if i in (23, 24) else 6 + i % 3
        rows.append(
            {
                "id": i,
                "nombre": f"Estudiante {i}",
                "grado": grado,
                "premios": i % 4,
                # 10 students in program 0 (published), 9 in program 1 (suppressed).
                "programa": 0 if i <= 10 else 1 if i <= 19 else 3,
                "matematicas": (i * 37) % 101,
                "ingles": (i * 53) % 97,
                "ciencias": None if grado == 8 else (i * 29) % 89,
            }
        )
    pdf = pd.DataFrame(rows, columns=list(schema.NOTAS_COLUMNS))
    return pdf.astype({c: "Int64" for c in schema.NOTAS_COLUMNS if c != "nombre"})


def read_output(folder: Path) -> list[dict]:
    parts = sorted(folder.glob("part-*.parquet"))
    assert len(parts) == 1, f"{folder}: expected one part file, got {parts}"
    assert (folder / "_SUCCESS").exists()
    table = pq.read_table(folder)
    return table.to_pylist()


def submit(app: str, run_dir: Path, tmp_path: Path) -> str:
    """Run the app with the venv's spark-submit as the DAG would; return its output."""
    zip_path = spark_submit.build_package_zip(run_dir / "caoskol.zip")
    conf = {**spark_submit.spark_conf(), "spark.sql.shuffle.partitions": "2"}
    # Test speed only: a short local job spends most of its CPU in the JIT's C2 compiler;
    # stopping at C1 nearly halves it (measured: 29 s -> 17 s CPU). Production keeps defaults.
    java_options = conf.get("spark.driver.extraJavaOptions", "")
    conf["spark.driver.extraJavaOptions"] = f"{java_options} -XX:TieredStopAtLevel=1".strip()
    cmd = [str(SPARK_SUBMIT), "--master", "local[2]", "--name", f"test-{app}", "--py-files", str(zip_path)]
    for key, value in conf.items():
        cmd += ["--conf", f"{key}={value}"]
    cmd += [str(config.spark_apps_dir() / app), *spark_submit.application_args(run_dir)]
    env = {**os.environ, **spark_submit.spark_env(), "SPARK_LOCAL_IP": os.environ.get("SPARK_LOCAL_IP", "127.0.0.1")}
    # No PYTHONPATH and a cwd outside the checkout, as on a cluster node. (This venv also has
    # caoskol installed in editable mode, but --py-files entries come first on sys.path; the
    # assertion below checks that the zip is what the driver imported.)
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    # The driver imported the package from the --py-files zip, as a cluster would.
    assert f"from {zip_path}/caoskol/__init__.py" in output, output[-3000:]
    return output


@pytest.fixture()
def run_dir(tmp_path) -> Path:
    run = tmp_path / "run"
    (run / "clean").mkdir(parents=True)
    small_school().to_parquet(run / "clean" / "part-00000.parquet", index=False)
    return run


def test_spark_submit_statistics(run_dir, tmp_path, spark, compare):
    submit("caoskol_statistics.py", run_dir, tmp_path)
    out = run_dir / "spark"
    assert sorted(p.name for p in out.iterdir()) == sorted(STATISTICS_OUTPUTS)
    written = {name: read_output(out / name) for name in STATISTICS_OUTPUTS}
    for name, rows in written.items():
        assert list(pq.read_schema(next((out / name).glob("part-*.parquet"))).names) == report_columns(name)
        compare.assert_no_nan(rows)

    # The same rows as the pure functions on the same input (those are tested against pandas).
    expected = statistics_tables(read_students(spark, str(run_dir / "clean")))
    for name, rows in written.items():
        compare.assert_rows(rows, [r.asDict() for r in expected[name].collect()], KEYS[name])

    pdf = small_school()
    stats = {(r["ambito"], r["grado"], r["variable"]): r for r in written["estadisticas"]}
    math_all = stats[("escuela", None, "matematicas")]
    assert math_all["n"] == 24 and math_all["media"] == pytest.approx(pdf["matematicas"].astype(float).mean())
    assert math_all["desviacion"] == pytest.approx(pdf["matematicas"].astype(float).std(ddof=1))
    science_8 = stats[("grado", 8, "ciencias")]
    assert science_8["n"] == 0 and science_8["media"] is None and science_8["desviacion"] is None
    assert {r["grado"]: r["n"] for r in written["estudiantes_por_grado"]}[None] == 2
    # Files are sorted (write_tables), NULL grade first: diffable from run to run.
    assert [r["grado"] for r in written["estudiantes_por_grado"]] == [None, *schema.GRADES]
    assert {r["programa"] for r in written["agregados_programa"]} == {0}  # 1 has 9: withheld


def test_spark_submit_correlations(run_dir, tmp_path):
    submit("caoskol_correlations.py", run_dir, tmp_path)
    out = run_dir / "spark"
    assert sorted(p.name for p in out.iterdir()) == sorted(CORRELATIONS_OUTPUTS) == ["correlaciones"]
    rows = read_output(out / "correlaciones")
    assert all(r["r"] is None or math.isfinite(r["r"]) for r in rows)
    assert len(rows) == (1 + len(schema.GRADES)) * 6
    pdf = small_school()
    by_key = {(r["ambito"], r["grado"], r["variable_x"], r["variable_y"]): r for r in rows}
    for (x, y) in [("premios", "matematicas"), ("matematicas", "ingles"), ("ingles", "ciencias")]:
        both = pdf[[x, y]].astype(float).dropna()
        got = by_key[("escuela", None, x, y)]
        assert got["n"] == len(both)
        assert got["r"] == pytest.approx(both[x].corr(both[y]), rel=1e-9)
    assert by_key[("grado", 8, "matematicas", "ciencias")]["n"] == 0
    assert by_key[("grado", 8, "matematicas", "ciencias")]["r"] is None


# --- what main() does around the pure functions, in-process ---------------------------


def test_empty_input_folder_without_files(spark, tmp_path):
    # A run with zero clean rows may write no Parquet file at all.
    clean = tmp_path / "clean"
    clean.mkdir()
    students = read_students(spark, str(clean))
    assert students.count() == 0
    tables = statistics_tables(students)
    # Two tables are enough here (each write is a Spark job): one with n = 0 rows, one empty.
    two = {"estadisticas": tables["estadisticas"], "histogramas": tables["histogramas"]}
    written = write_tables(two, str(tmp_path / "spark"))
    assert [Path(p).name for p in written] == ["estadisticas", "histogramas"]
    stats = read_output(tmp_path / "spark" / "estadisticas")
    assert len(stats) == (1 + len(schema.GRADES)) * len(schema.STAT_VARIABLES)
    assert all(r["n"] == 0 and r["media"] is None for r in stats)
    # Empty results are still a readable Parquet file with the table's columns.
    empty = tmp_path / "spark" / "histogramas"
    assert read_output(empty) == []
    assert pq.read_table(empty).column_names == report_columns("histogramas")


def test_empty_parquet_file_written_by_pandas(spark, tmp_path):
    clean = tmp_path / "clean"
    clean.mkdir()
    small_school().iloc[0:0].to_parquet(clean / "part-00000.parquet", index=False)
    stats = estadisticas(read_students(spark, str(clean))).collect()
    assert all(r["n"] == 0 for r in stats)


def test_missing_input_folder_is_an_error(spark, tmp_path):
    from pyspark.errors import AnalysisException

    # A missing clean/ means an upstream step did not run: fail, do not publish zeros.
    with pytest.raises(AnalysisException) as caught:
        read_students(spark, str(tmp_path / "does-not-exist"))
    assert caught.value.getCondition() == "PATH_NOT_FOUND"


def test_write_overwrites(spark, tmp_path, students_df):
    out = str(tmp_path / "spark")
    write_tables({"correlaciones": correlaciones(students_df([]))}, out)
    rows = [
        {"id": 1, "nombre": "a", "grado": 6, "premios": 1, "programa": 0, "matematicas": 1, "ingles": 2, "ciencias": 3}
    ]
    write_tables({"correlaciones": correlaciones(students_df(rows))}, out)
    assert sum(r["n"] for r in read_output(tmp_path / "spark" / "correlaciones")) == 2 * 6  # escuela + grade 6
