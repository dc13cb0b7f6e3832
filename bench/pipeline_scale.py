"""The nightly pipeline from one school to national scale, measured (issue 5).

For each N (default 100k, 1M and 10M generated students), in one run:

1. generate the school with ``caoskol.synthetic`` (cached under ``var/bench/data``);
2. load it into fresh databases ``caoskol_bench_colegio_<N>`` / ``caoskol_bench_rep_<N>``
   with the server's bulk path (``bench/bulkload.py``), timed on its own;
3. the floor: every row of ``notas`` read through the same driver (MySQLdb, server-side
   cursor, chunks of 50 000) to nowhere - the time no pipeline can beat;
4. the real DAG once, with ``dag.test()`` as tests/e2e runs it (``bench/dag_runner.py``), its
   process tree (spark-submit, the Spark JVM and its Python workers included) sampled every
   0.1 s: the whole run's wall time, and each task's wall time (the run's own task timings)
   and peak RSS (the largest sample of the tree while the task ran);
5. checks that the run published, and drops the databases and the run's files.

Then the 400-student school (``../shared/seed-data``, loaded with ``caoskol load``): the
DAG's wall time and how much of it is Spark's fixed start-up (a no-op ``spark-submit``
with the same options, ``bench/spark_noop.py``, timed three times); and the DAG file's
parse time as the DAG processor pays it (Airflow already imported, the file executed, five
fresh processes, median).

Writes ``docs/bench/scale.json`` (every figure), ``docs/bench/scale.png`` (time and memory
against N) and prints the Markdown tables that docs/BENCHMARKS.md quotes.

    source scripts/env.sh
    python bench/pipeline_scale.py                    # 100k, 1M, 10M (~30 min)
    python bench/pipeline_scale.py --sizes 100000     # one size
    python bench/pipeline_scale.py --sizes 1000000 --skip-school --skip-parse

Needs the local MariaDB (``local_infile`` on), Java and the .venv (matplotlib for the plot).
It never touches databases other than its own ``caoskol_bench_*``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import psutil

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

SERVER = os.environ.get("CAOSKOL_BENCH_SERVER", "mysql+mysqldb://root@127.0.0.1:3306")
LOGICAL_DATE = "2026-11-30T07:00:00+00:00"
TASKS = (
    "preflight", "extract", "validate_raw", "clean", "validate_clean",
    "spark_statistics", "spark_correlations", "publish",
)
FLOOR_SQL = "SELECT id, nombre, grado, premios, programa, matematicas, ingles, ciencias FROM notas"
GIB = 2**30


# --- helpers -----------------------------------------------------------------------------


def log(msg: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


def url(database: str) -> str:
    return f"{SERVER}/{database}?charset=utf8mb4"


def airflow_url(sqlalchemy_url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(sqlalchemy_url).set(drivername="mysql").render_as_string(hide_password=False)


def drop_databases(*names: str) -> None:
    from sqlalchemy import text

    from caoskol import db

    for name in names:
        assert name.startswith("caoskol_bench_"), name  # never anybody else's database
    server = db.engine(SERVER + "/")
    with server.begin() as conn:
        for name in names:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    server.dispose()


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


class TreeSampler:
    """Samples the RSS of a process and the summed RSS of all its descendants, with times.

    With ``dag.test()`` the Python tasks run inside the root process (which keeps what
    earlier tasks imported and allocated), and a Spark task's work happens in the
    descendants (spark-submit, the JVM, the Python driver): both are kept apart.
    """

    def __init__(self, pid: int, interval: float = 0.1):
        self.root = psutil.Process(pid)
        self.interval = interval
        self.samples: list[tuple[float, int, int]] = []  # (time, root RSS, descendants RSS)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                procs = [self.root] + self.root.children(recursive=True)
            except psutil.Error:
                break
            rss = []
            for p in procs:
                try:
                    rss.append(p.memory_info().rss)
                except psutil.Error:
                    rss.append(0)
            self.samples.append((time.time(), rss[0], sum(rss[1:])))
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def peak(self, start: float = 0.0, end: float = math.inf, part: str = "tree") -> int:
        pick = {"tree": lambda r, c: r + c, "root": lambda r, c: r, "children": lambda r, c: c}[part]
        return max((pick(r, c) for t, r, c in self.samples if start <= t <= end), default=0)

    def at(self, when: float) -> int:
        """Root RSS at the last sample before ``when``."""
        return max(((t, r) for t, r, _ in self.samples if t <= when), default=(0, 0))[1]


# --- the steps of one size ---------------------------------------------------------------


def generate(n: int, seed: int, data_dir: Path) -> Path:
    from caoskol import synthetic

    out = data_dir / f"n{n}_seed{seed}"
    if (out / synthetic.NOTAS_FILE).exists() and (out / synthetic.USERS_FILE).exists():
        return out
    log(f"generating {n} students (seed {seed})")
    synthetic.generate(out, students=n, seed=seed, users=True, password="bench")
    return out


def floor_seconds(colegio_url: str) -> tuple[float, int]:
    """Every row of notas through MySQLdb's server-side cursor, to nowhere."""
    import MySQLdb.cursors
    from bulkload import connect

    conn = connect(colegio_url)
    try:
        started = time.perf_counter()
        cur = conn.cursor(MySQLdb.cursors.SSCursor)
        cur.execute(FLOOR_SQL)
        rows = 0
        while True:
            chunk = cur.fetchmany(50_000)
            if not chunk:
                break
            rows += len(chunk)
        cur.close()
        return time.perf_counter() - started, rows
    finally:
        conn.close()


def bench_env(colegio_url: str, reportes_url: str, data_dir: Path, airflow_home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home}/airflow.db",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(airflow_home / "logs"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_CONN_COLEGIO_MYSQL": airflow_url(colegio_url),
        "AIRFLOW_CONN_REPORTES_MYSQL": airflow_url(reportes_url),
        "CAOSKOL_COLEGIO_URL": colegio_url,
        "CAOSKOL_REPORTES_URL": reportes_url,
        "CAOSKOL_DATA_DIR": str(data_dir),
        "CAOSKOL_TASK_RETRIES": "0",
        "GX_ANALYTICS_ENABLED": "False",
    }


def run_dag(env: dict[str, str], data_dir: Path) -> dict:
    """The DAG once, in its own process; per-task wall time and peak RSS of the tree."""
    cmd = [sys.executable, str(BENCH_DIR / "dag_runner.py"), "--logical-date", LOGICAL_DATE]
    started = time.time()
    log_path = data_dir / "dag_runner.log"
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=out, text=True, cwd=REPO_ROOT)
        with TreeSampler(proc.pid) as sampler:
            stdout, _ = proc.communicate()
    ended = time.time()
    # Airflow's task logs (spark-submit's output included) go to stdout with dag.test():
    # kept beside the run, and under the bench folder's logs/ (the run folder is removed).
    (data_dir / "dag_runner.stdout.log").write_text(stdout)
    keep = data_dir.parents[1] / "logs" if len(data_dir.parents) > 1 else data_dir
    keep.mkdir(parents=True, exist_ok=True)
    (keep / f"{data_dir.name}-{int(started)}.log").write_text(stdout)
    line = next((l for l in stdout.splitlines() if l.startswith("BENCH_RESULT ")), None)
    if proc.returncode != 0 or line is None:
        failed = [l for l in stdout.splitlines() if "ERROR" in l or "Traceback" in l or "Error:" in l]
        raise RuntimeError(f"the DAG run failed (exit {proc.returncode}); log: {keep}; "
                           + "\n".join(failed[-15:]))
    result = json.loads(line.split(" ", 1)[1])
    run_dir = Path(result["run_dir"])
    from caoskol import runs

    timings = runs.timings(run_dir)  # what the task callbacks recorded (start, end)
    tasks = {}
    for task in TASKS:
        t = timings.get(task, {})
        if "start" in t and "end" in t:
            tasks[task] = {
                "seconds": round(t["end"] - t["start"], 2),
                # The whole tree while the task ran (the dag.test process + anything it started).
                "peak_rss_mib": round(sampler.peak(t["start"], t["end"]) / 2**20),
                # The dag.test process alone (where the Python tasks run) ...
                "root_peak_mib": round(sampler.peak(t["start"], t["end"], "root") / 2**20),
                "root_at_start_mib": round(sampler.at(t["start"]) / 2**20),
                # ... and its descendants alone (spark-submit, the Spark JVM, the Python driver).
                "children_peak_mib": round(sampler.peak(t["start"], t["end"], "children") / 2**20),
            }
            # The task's own memory: a Spark task is its spark-submit tree; a Python task
            # is the dag.test process (an upper bound: it also holds what earlier tasks left).
            own = "children_peak_mib" if task.startswith("spark_") else "root_peak_mib"
            tasks[task]["task_peak_mib"] = tasks[task][own]
    first_start = min(t["start"] for t in timings.values() if "start" in t)
    return {
        "run_id": result["run_id"],
        "run_dir": str(run_dir),
        "dag_seconds": round(result["dag_test_end"] - result["dag_test_start"], 2),
        "process_seconds": round(ended - started, 2),
        "dagbag_seconds": round(result["dagbag_seconds"], 3),
        "baseline_rss_mib": round(sampler.peak(0, first_start) / 2**20),
        "peak_rss_mib": round(sampler.peak() / 2**20),
        "tasks": tasks,
    }


def published(reportes_url: str, run_id: str) -> dict:
    from sqlalchemy import text

    from caoskol import db

    eng = db.engine(reportes_url)
    try:
        with eng.connect() as conn:
            row = conn.execute(
                text("SELECT estado, filas_leidas, filas_limpias, filas_cuarentena FROM ejecuciones WHERE run_id = :r"),
                {"r": run_id},
            ).one()
            sizes = {
                t: conn.execute(text(f"SELECT COUNT(*) FROM {t} WHERE run_id = :r"), {"r": run_id}).scalar()
                for t in ("estadisticas", "histogramas", "correlaciones", "cuarentena")
            }
    finally:
        eng.dispose()
    return {"estado": row.estado, "read": row.filas_leidas, "clean": row.filas_limpias,
            "quarantined": row.filas_cuarentena, "published_rows": sizes}


def one_size(n: int, args, airflow_home: Path) -> dict:
    import shutil

    from bulkload import bulk_load

    from caoskol import synthetic

    src = generate(n, args.seed, args.data_dir / "data")
    colegio_db, reportes_db = f"caoskol_bench_colegio_{n}", f"caoskol_bench_rep_{n}"
    colegio, reportes = url(colegio_db), url(reportes_db)
    run_data = args.data_dir / "runs" / f"n{n}"
    shutil.rmtree(run_data, ignore_errors=True)
    out: dict = {"n": n, "load_average_before": load_average()}
    ok = False
    try:
        drop_databases(colegio_db, reportes_db)
        log(f"N={n}: bulk load")
        loaded = bulk_load(colegio, (src / synthetic.NOTAS_FILE).resolve(), (src / synthetic.USERS_FILE).resolve())
        from caoskol import db

        db.create_reportes_schema(reportes).dispose()
        out["load_seconds"] = round(loaded["seconds"], 2)
        out["rows"] = loaded["notas_rows"]
        log(f"N={n}: {loaded['notas_rows']} rows loaded in {loaded['seconds']:.1f} s; floor")
        floors = [floor_seconds(colegio) for _ in range(2)]
        out["floor_seconds"] = round(min(s for s, _ in floors), 2)
        out["floor_runs"] = [round(s, 2) for s, _ in floors]
        assert all(r == out["rows"] for _, r in floors)
        log(f"N={n}: floor {out['floor_seconds']} s; DAG")
        out["load_average_dag_start"] = load_average()
        out.update(run_dag(bench_env(colegio, reportes, run_data, airflow_home), run_data))
        out["load_average_dag_end"] = load_average()
        out["published"] = published(reportes, out["run_id"])
        out["dag_over_floor"] = round(out["dag_seconds"] / out["floor_seconds"], 1)
        log(f"N={n}: DAG {out['dag_seconds']} s ({out['dag_over_floor']}x floor), peak {out['peak_rss_mib']} MiB")
        if n == args.cluster_n:
            out["standalone"] = standalone_run(colegio, reportes, run_data / "standalone", airflow_home)
        ok = True
    finally:
        if not ok:
            log(f"N={n}: failed; kept {colegio_db}, {reportes_db} and {run_data} for a look (drop them after)")
        elif not args.keep:
            drop_databases(colegio_db, reportes_db)
            shutil.rmtree(run_data, ignore_errors=True)
    return out


def standalone_run(colegio: str, reportes: str, run_data: Path, airflow_home: Path) -> dict:
    """The same DAG, the same data, only ``spark_default`` changed: a master and two workers."""
    from standalone import cluster, master_state

    log("standalone cluster: a master and two workers on localhost (1 core, 2 GiB each)")
    with cluster(run_data / "spark", workers=2, cores=1, memory="2g") as c:
        env = bench_env(colegio, reportes, run_data, airflow_home)
        env["AIRFLOW_CONN_SPARK_DEFAULT"] = c["connection"]
        out = run_dag(env, run_data)
        state = master_state(c["ui"])
        out["completed_apps"] = sorted(a["name"] for a in state.get("completedapps", []))
        out["workers"] = len(state.get("workers", []))
        out["connection"] = c["connection"]
    out["published"] = published(reportes, out["run_id"])
    log(f"standalone: DAG {out['dag_seconds']} s, apps {out['completed_apps']}")
    return out


# --- the 400-student school and the DAG file ---------------------------------------------


def spark_noop_seconds(master: str, repeats: int = 3) -> list[float]:
    from caoskol import spark_submit

    binary = str(Path(sys.executable).parent / "spark-submit")
    cmd = [binary, "--master", master]
    for key, value in spark_submit.spark_conf().items():
        cmd += ["--conf", f"{key}={value}"]
    cmd += ["--driver-memory", spark_submit.driver_memory(), str(BENCH_DIR / "spark_noop.py")]
    env = {**os.environ, **spark_submit.spark_env()}
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, capture_output=True)
        times.append(round(time.perf_counter() - started, 2))
    return times


def school(args, airflow_home: Path) -> dict:
    import shutil

    from caoskol.loaders.load import load_files

    seed_dir = Path(os.environ.get("CAOSKOL_SEED_DIR", REPO_ROOT.parent / "shared" / "seed-data"))
    colegio_db, reportes_db = "caoskol_bench_colegio_400", "caoskol_bench_rep_400"
    colegio, reportes = url(colegio_db), url(reportes_db)
    run_data = args.data_dir / "runs" / "school"
    shutil.rmtree(run_data, ignore_errors=True)
    out: dict = {"n": 400, "load_average_before": load_average()}
    try:
        from caoskol import db

        drop_databases(colegio_db, reportes_db)
        db.create_colegio_schema(colegio).dispose()
        db.create_reportes_schema(reportes).dispose()
        os.environ.setdefault("CAOSKOL_PASSWORD_HASH_METHOD", "pbkdf2:sha256:1000")
        started = time.perf_counter()
        report = load_files([seed_dir / "US_Dataset.csv", seed_dir / "US_Dataset_users.csv"], url=colegio)
        out["load_seconds"] = round(time.perf_counter() - started, 2)
        out["rows"] = sum(r.loaded for r in report.results if r.table == "notas")
        out["floor_seconds"] = round(min(floor_seconds(colegio)[0] for _ in range(3)), 4)
        log("school: DAG")
        out.update(run_dag(bench_env(colegio, reportes, run_data, airflow_home), run_data))
        out["published"] = published(reportes, out["run_id"])
        master = json.loads(os.environ.get("AIRFLOW_CONN_SPARK_DEFAULT", '{"host": "local[*]"}')).get("host", "local[*]")
        log("school: Spark start-up (no-op spark-submit x3)")
        noop = spark_noop_seconds(master)
        out["spark_noop_seconds"] = noop
        startup = statistics.median(noop)
        spark_tasks = sum(out["tasks"][t]["seconds"] for t in ("spark_statistics", "spark_correlations"))
        out["spark_startup_seconds_two_jobs"] = round(2 * startup, 2)
        out["spark_startup_share_of_dag"] = round(2 * startup / out["dag_seconds"], 3)
        out["spark_startup_share_of_spark_tasks"] = round(2 * startup / spark_tasks, 3)
    finally:
        if not args.keep:
            drop_databases(colegio_db, reportes_db)
            shutil.rmtree(run_data, ignore_errors=True)
    return out


PARSE_CODE = """
import importlib.util, time
import airflow.sdk, airflow.providers.apache.spark.operators.spark_submit, pendulum  # the processor has these
t = time.perf_counter()
spec = importlib.util.spec_from_file_location("caoskol_nightly_parse", {path!r})
mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
print("PARSE", time.perf_counter() - t)
"""


def parse_time(repeats: int = 5) -> dict:
    path = str(REPO_ROOT / "dags" / "caoskol_nightly.py")
    times = []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-c", PARSE_CODE.format(path=path)], capture_output=True, text=True, check=True
        ).stdout
        times.append(float(next(l for l in out.splitlines() if l.startswith("PARSE")).split()[1]))
    return {"runs": [round(t, 3) for t in times], "median_seconds": round(statistics.median(times), 3)}


# --- report ------------------------------------------------------------------------------


def slope(points: list[tuple[int, float]]) -> float | None:
    """Least-squares exponent b of t = a * N^b (1.0 = linear)."""
    pts = [(math.log(n), math.log(t)) for n, t in points if t > 0]
    if len(pts) < 2:
        return None
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    den = sum((x - mx) ** 2 for x, _ in pts)
    return round(sum((x - mx) * (y - my) for x, y in pts) / den, 3) if den else None


def machine() -> dict:
    import great_expectations  # noqa: F401 - version only
    import pandas
    import pyarrow
    import pyspark
    from importlib.metadata import version

    mem = psutil.virtual_memory().total
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()[0]
    mysql = subprocess.run([sys.executable, "-c", "import MySQLdb; c = MySQLdb.connect(host='127.0.0.1', user='root'); "
                            "cur = c.cursor(); cur.execute('SELECT VERSION()'); print(cur.fetchone()[0])"],
                           capture_output=True, text=True).stdout.strip()
    return {
        "cpu": cpu, "cores": psutil.cpu_count(), "memory_gib": round(mem / GIB, 1),
        "os": platform.platform(), "python": platform.python_version(), "java": java, "mysql": mysql,
        "airflow": version("apache-airflow"), "pyspark": pyspark.__version__,
        "great_expectations": version("great-expectations"), "pandas": pandas.__version__,
        "pyarrow": pyarrow.__version__,
    }


def plot(results: list[dict], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib is not installed: no plot (.venv/bin/uv pip install -p .venv/bin/python -r bench/requirements.txt)")
        return
    ns = [r["n"] for r in results]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 5.2))
    ax1.plot(ns, [r["dag_seconds"] for r in results], "o-", lw=2.5, color="black", label="whole DAG")
    ax1.plot(ns, [r["floor_seconds"] for r in results], "s--", color="grey", label="floor (read notas)")
    ax1.plot(ns, [3 * r["floor_seconds"] for r in results], ":", color="grey", label="3 x floor (goal at 10M)")
    for task in TASKS[1:]:
        ax1.plot(ns, [r["tasks"].get(task, {}).get("seconds", float("nan")) for r in results], ".-", label=task)
    ax1.plot([1e6], [60], "r*", ms=12, label="goals: 1M <= 60 s, 10M <= 360 s")
    ax1.plot([1e7], [360], "r*", ms=12)
    ax1.set(xscale="log", yscale="log", xlabel="students (rows of notas)", ylabel="wall time (s)",
            title="Time against N")
    ax1.grid(True, which="both", alpha=0.3)
    ax1.legend(fontsize=7, loc="lower right")
    for task in TASKS[1:]:
        ax2.plot(ns, [r["tasks"].get(task, {}).get("task_peak_mib", float("nan")) / 1024 for r in results], "o-", label=task)
    ax2.axhline(2.0, color="red", ls="--", label="goal: no task above 2 GiB")
    ax2.set(xscale="log", xlabel="students (rows of notas)", ylabel="peak RSS (GiB)",
            title="Peak memory per task (Spark: spark-submit + JVM + driver;\nPython tasks: the dag.test process)")
    ax2.set_ylim(bottom=0)
    ax2.grid(True, which="both", alpha=0.3)
    ax2.legend(fontsize=7, loc="upper left")
    fig.suptitle("Caoskol nightly DAG (dag.test) on one 2-core machine", fontsize=11)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    log(f"plot: {path}")


def markdown(report: dict) -> str:
    rows = report["sizes"]
    lines = ["| N | load (s) | floor (s) | DAG (s) | DAG / floor | peak RSS (MiB) | load avg (start → end) |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in rows:
        lines.append(f"| {r['n']:,} | {r['load_seconds']} | {r['floor_seconds']} | {r['dag_seconds']} | "
                     f"{r['dag_over_floor']} | {r['peak_rss_mib']} | {r['load_average_dag_start'][0]} → {r['load_average_dag_end'][0]} |")
    lines += ["", "| task | " + " | ".join(f"{r['n']:,}: s / task MiB (tree MiB)" for r in rows) + " |",
              "| --- | " + " | ".join("---:" for _ in rows) + " |"]
    for task in TASKS:
        cells = []
        for r in rows:
            t = r["tasks"].get(task)
            if t:  # a task shorter than one sample interval: the process as it started
                own = t.get("task_peak_mib") or t.get("root_at_start_mib", 0)
                tree = t.get("peak_rss_mib") or t.get("root_at_start_mib", 0)
                cells.append(f"{t['seconds']} / {own} ({tree})")
            else:
                cells.append("-")
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    s = report.get("slopes", {})
    lines += ["", f"Slope (exponent of t ~ N^b over the sizes): DAG {s.get('dag')}, floor {s.get('floor')}, "
              f"load {s.get('load')}; marginal cost between the two largest sizes: "
              f"{s.get('dag_seconds_per_million')} s of DAG per million rows."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000,10000000")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--data-dir", type=Path, default=REPO_ROOT / "var" / "bench")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "bench")
    parser.add_argument("--keep", action="store_true", help="keep the bench databases and run files")
    parser.add_argument("--skip-school", action="store_true")
    parser.add_argument("--skip-parse", action="store_true")
    parser.add_argument("--cluster-n", type=int, default=1_000_000,
                        help="also run the DAG on a standalone cluster (master + 2 workers) at this N (0: never)")
    parser.add_argument("--from-json", type=Path, help="only redraw the plot and the tables of an earlier run")
    args = parser.parse_args(argv)
    args.data_dir = args.data_dir.resolve()
    if args.from_json:
        report = json.loads(args.from_json.read_text())
        plot(report["sizes"], args.from_json.with_suffix(".png"))
        print(markdown(report))
        return 0
    sizes = [int(s) for s in args.sizes.split(",") if s]

    airflow_home = args.data_dir / "airflow"
    airflow_home.mkdir(parents=True, exist_ok=True)
    env = bench_env(url("x"), url("x"), args.data_dir, airflow_home)
    log("airflow db migrate (bench metadata DB)")
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True, capture_output=True)

    report: dict = {"started": datetime.now(timezone.utc).isoformat(), "machine": machine(),
                    "load_average_start": load_average(), "sizes": []}
    if not args.skip_parse:
        report["dag_parse"] = parse_time()
        log(f"DAG file parse: {report['dag_parse']}")
    if not args.skip_school:
        report["school"] = school(args, airflow_home)
        log(f"school: DAG {report['school']['dag_seconds']} s, Spark start-up share "
            f"{report['school']['spark_startup_share_of_dag']}")
    partial = args.out / "scale-partial.json"
    args.out.mkdir(parents=True, exist_ok=True)
    for n in sizes:
        report["sizes"].append(one_size(n, args, airflow_home))
        partial.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    rows = report["sizes"]
    if rows:
        report["slopes"] = {
            "dag": slope([(r["n"], r["dag_seconds"]) for r in rows]),
            "floor": slope([(r["n"], r["floor_seconds"]) for r in rows]),
            "load": slope([(r["n"], r["load_seconds"]) for r in rows]),
        }
        if len(rows) >= 2:
            a, b = rows[-2], rows[-1]
            report["slopes"]["dag_seconds_per_million"] = round((b["dag_seconds"] - a["dag_seconds"]) / ((b["n"] - a["n"]) / 1e6), 2)
        for task in TASKS:
            report["slopes"][task] = slope([(r["n"], r["tasks"][task]["seconds"]) for r in rows if task in r["tasks"]])
    report["finished"] = datetime.now(timezone.utc).isoformat()
    report["load_average_end"] = load_average()
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = "" if len(sizes) == 3 else "-" + "-".join(str(n) for n in sizes)
    (args.out / f"scale{suffix}.json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    partial.unlink(missing_ok=True)
    if rows:
        plot(rows, args.out / f"scale{suffix}.png")
        print(markdown(report))
    print(json.dumps({k: report[k] for k in ("dag_parse", "school") if k in report}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
