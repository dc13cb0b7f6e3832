"""Build the Spark driver's class-data-sharing (AppCDS) archive: faster job start-up.

Why: every Spark task is a new JVM that loads and verifies some 15,000 classes before its
first job; on this 2-core machine that is most of a job's fixed cost. A JDK 17 dynamic
archive (``-XX:ArchiveClassesAtExit``) records the classes a real run loaded; later JVMs
started with ``-XX:SharedArchiveFile`` map them instead (a no-op job 8.3 s -> 5.2 s,
docs/BENCHMARKS.md). ``caoskol.spark_submit.spark_conf`` adds that option when the archive
exists. The JVM checks the archive against its own build and class path and ignores it,
silently, when they differ (another JDK, a reinstalled pyspark), so a stale archive costs
time, never a failed job; rebuilding it is this command again.

    python -m caoskol.spark_cds [--force]        # scripts/install.sh runs it
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from caoskol import config, spark_submit


def pyspark_jars() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent / "jars"


def is_current(archive: Path) -> bool:
    """The archive exists and is newer than the Spark jars it was recorded from."""
    if not archive.is_file():
        return False
    jars = pyspark_jars()
    newest = max((p.stat().st_mtime for p in jars.glob("*.jar")), default=0.0)
    return archive.stat().st_mtime > newest


def build(archive: Path | None = None) -> Path:
    """Run ``caoskol/spark/warmup.py`` under spark-submit, recording its classes to ``archive``."""
    archive = Path(archive or config.spark_class_archive())
    archive.parent.mkdir(parents=True, exist_ok=True)
    tmp = archive.with_name(archive.name + ".tmp")
    tmp.unlink(missing_ok=True)
    binary = shutil.which("spark-submit") or str(Path(sys.executable).with_name("spark-submit"))
    conf = {k: v for k, v in spark_submit.spark_conf().items() if k != "spark.driver.extraJavaOptions"}
    conf["spark.driver.extraJavaOptions"] = f"-XX:ArchiveClassesAtExit={tmp}"
    cmd = [binary, "--master", "local[*]", "--driver-memory", spark_submit.driver_memory()]
    for key, value in conf.items():
        cmd += ["--conf", f"{key}={value}"]
    warmup = Path(__file__).resolve().parent / "spark" / "warmup.py"
    with tempfile.TemporaryDirectory(prefix="caoskol-cds-") as scratch:
        proc = subprocess.run(
            [*cmd, str(warmup), scratch],
            env={**os.environ, **spark_submit.spark_env()},
            capture_output=True,
            text=True,
        )
    if proc.returncode != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        raise RuntimeError(
            f"spark-submit of {warmup} failed (exit {proc.returncode}); no archive written:\n{proc.stderr[-3000:]}"
        )
    os.replace(tmp, archive)
    return archive


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild even if the archive is current")
    parser.add_argument("--archive", type=Path, default=None, help="default: $CAOSKOL_SPARK_CLASS_ARCHIVE or var/spark/")
    args = parser.parse_args(argv)
    archive = Path(args.archive or config.spark_class_archive())
    if not args.force and is_current(archive):
        print(f"Spark class archive is current: {archive}")
        return 0
    try:
        built = build(archive)
    except RuntimeError as exc:
        print(f"caoskol.spark_cds: {exc}", file=sys.stderr)
        return 1
    print(f"Spark class archive written: {built} ({built.stat().st_size // 2**20} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
