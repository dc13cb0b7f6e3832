"""The Spark driver's class-data-sharing archive (caoskol.spark_cds, spark_submit.spark_conf).

Real JVMs: the archive is built by a real spark-submit (or taken from the install when it is
current), a job started with it must map Spark's classes from it, and a broken archive must
cost nothing but time.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from caoskol import config, spark_cds, spark_submit

SPARK_SUBMIT = Path(sys.executable).with_name("spark-submit")
WARMUP = Path(spark_cds.__file__).resolve().parent / "spark" / "warmup.py"


def test_conf_maps_the_archive_only_when_it_exists(tmp_path, monkeypatch):
    archive = tmp_path / "driver.jsa"
    monkeypatch.setenv("CAOSKOL_SPARK_CLASS_ARCHIVE", str(archive))
    monkeypatch.delenv("CAOSKOL_SPARK_UI", raising=False)
    conf = spark_submit.spark_conf()
    assert "spark.driver.extraJavaOptions" not in conf
    assert conf["spark.ui.enabled"] == "false"
    assert {k: conf[k] for k in spark_submit.SPARK_CONF} == spark_submit.SPARK_CONF
    archive.write_bytes(b"x")
    assert spark_submit.spark_conf()["spark.driver.extraJavaOptions"] == f"-XX:SharedArchiveFile={archive}"
    monkeypatch.setenv("CAOSKOL_SPARK_UI", "true")
    assert "spark.ui.enabled" not in spark_submit.spark_conf()


def test_an_archive_older_than_the_spark_jars_is_not_current(tmp_path):
    archive = tmp_path / "driver.jsa"
    assert not spark_cds.is_current(archive)
    archive.write_bytes(b"x")
    assert spark_cds.is_current(archive)
    os.utime(archive, (1_000_000, 1_000_000))  # 1970: older than any installed jar
    assert not spark_cds.is_current(archive)


def _submit_warmup(tmp_path: Path, conf: dict[str, str]) -> subprocess.CompletedProcess:
    cmd = [str(SPARK_SUBMIT), "--master", "local[2]", "--driver-memory", "1g"]
    for key, value in conf.items():
        cmd += ["--conf", f"{key}={value}"]
    env = {**os.environ, **spark_submit.spark_env(), "SPARK_LOCAL_IP": "127.0.0.1"}
    return subprocess.run([*cmd, str(WARMUP), str(tmp_path / "scratch")], env=env, capture_output=True,
                          text=True, timeout=300)


def test_a_job_maps_spark_classes_from_the_archive(tmp_path):
    installed = config.spark_class_archive()
    archive = installed if spark_cds.is_current(installed) else spark_cds.build(tmp_path / "driver.jsa")
    log = tmp_path / "classes.log"
    conf = {**spark_submit.SPARK_CONF, "spark.ui.enabled": "false",
            "spark.driver.extraJavaOptions": f"-XX:SharedArchiveFile={archive} -Xlog:class+load=info:file={log}"}
    proc = _submit_warmup(tmp_path, conf)
    assert proc.returncode == 0, proc.stderr[-4000:]
    spark_classes = [line for line in log.read_text().splitlines() if " org.apache.spark." in line]
    from_archive = [line for line in spark_classes if "source: shared objects file (top)" in line]
    # Read from a jar: what the archive did not have. Code generated at run time (janino's
    # GeneratedClass) is new in every JVM and can never be archived.
    from_jars = [line for line in spark_classes if " source: file:" in line and "GeneratedClass" not in line]
    assert len(from_archive) > 3000 and len(from_jars) < 0.05 * len(from_archive), (len(from_archive), len(from_jars))
    assert (tmp_path / "scratch" / "spark" / "estadisticas").is_dir()


def test_a_broken_archive_is_ignored_not_an_error(tmp_path, monkeypatch):
    broken = tmp_path / "broken.jsa"
    broken.write_bytes(os.urandom(64 * 1024))
    monkeypatch.setenv("CAOSKOL_SPARK_CLASS_ARCHIVE", str(broken))
    conf = spark_submit.spark_conf()
    assert str(broken) in conf["spark.driver.extraJavaOptions"]
    proc = _submit_warmup(tmp_path, conf)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert (tmp_path / "scratch" / "spark" / "correlaciones").is_dir()
