"""Throughput and latency of the portal under gunicorn, measured with wrk (not a timed test).

    .venv/bin/python bench/portal_wrk.py                 # 64 connections, 30 s per endpoint
    .venv/bin/python bench/portal_wrk.py --duration 5    # a quick look

What it does, all on loopback:

1. Databases: by default a fresh pair filled with the school's seed data and a published
   report (the same builder as tests/portal, hand-made source: no Spark run needed), dropped
   at the end. ``--use-env`` benchmarks the databases named by CAOSKOL_COLEGIO_URL /
   CAOSKOL_REPORTES_URL instead, logging in as CAOSKOL_BENCH_ID / CAOSKOL_BENCH_CLAVE.
2. Starts ``gunicorn 'caoskol_portal:create_app()'`` with the portal image's settings file
   (``docker/portal/gunicorn.conf.py``) and 4 sync workers (``--worker-class``, ``--workers``,
   ``--gunicorn-threads`` change them) in
   production mode, logs in as a teacher through the JSON API and keeps the session cookie.
3. Runs ``wrk --latency`` against: ``/healthz`` (the trivial endpoint of the same app on
   the same server: the ceiling), the teacher dashboard ``/profesor/`` and the API
   endpoint ``/api/v1/reporte/tablero``.
4. Prints requests/s, p50/p99 latency and errors, checks the goals of issue 3 (dashboard
   >= 1000 req/s, p99 < 100 ms, zero errors, >= 60% of the trivial endpoint), and writes
   the figures as JSON (``--out``, default test-artifacts/bench/portal_wrk.json).

Every request goes to 127.0.0.1; wrk stops by itself after ``--duration``.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GUNICORN_CONF = REPO / "docker" / "portal" / "gunicorn.conf.py"
# One browser: the login and every measured request carry the same User-Agent. Flask-Login's
# session protection ties a session to address + User-Agent; a mismatch (urllib's agent at
# login, wrk's later) would mark the session non-fresh and re-sign the cookie on every
# response, a cost no real browser pays more than once since it stores the new cookie.
USER_AGENT = "caoskol-bench"
GOALS = {"dashboard_rps": 1000.0, "dashboard_p99_ms": 100.0, "ratio_to_trivial": 0.60}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def to_ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        raise ValueError(f"unexpected latency {text!r}")
    value, unit = float(m.group(1)), m.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def parse_wrk(output: str) -> dict:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    total = int(re.search(r"(\d+) requests in", output).group(1))
    pct = {p: to_ms(v) for p, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", output, re.M)}
    errors = 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if m:
        errors += sum(int(x) for x in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if m:
        errors += int(m.group(1))
    return {"rps": rps, "requests": total, "p50_ms": pct.get("50"), "p90_ms": pct.get("90"),
            "p99_ms": pct.get("99"), "errors": errors}


def run_wrk(url: str, cookie: str | None, args) -> dict:
    cmd = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s", "--latency", "--timeout", "5s"]
    cmd += ["-H", f"User-Agent: {USER_AGENT}"]
    if cookie:
        cmd += ["-H", f"Cookie: {cookie}"]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    result = parse_wrk(out)
    result["raw"] = out
    return result


def login(base: str, user_id: str, password: str) -> str:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    req = urllib.request.Request(base + "/api/v1/sesion", data=json.dumps({"id": user_id, "clave": password}).encode(),
                                 headers={"Content-Type": "application/json", "User-Agent": USER_AGENT}, method="POST")
    with opener.open(req, timeout=10) as r:
        assert r.status == 200
    cookie = next(c for c in jar if c.name == "caoskol_sesion")
    return f"{cookie.name}={cookie.value}"


def wait_ready(base: str, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit("gunicorn exited early; see its log")
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("gunicorn did not become ready")


def build_databases():
    import importlib.util

    os.environ.setdefault("CAOSKOL_PASSWORD_HASH_METHOD", "pbkdf2:sha256:1000")
    spec = importlib.util.spec_from_file_location("caoskol_tests_conftest", REPO / "tests" / "conftest.py")
    tests_conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tests_conftest)  # FreshDatabases, seed_data_dir
    FreshDatabases, seed_data_dir = tests_conftest.FreshDatabases, tests_conftest.seed_data_dir
    sys.path.insert(0, str(REPO / "tests" / "portal"))
    import portal_data

    fd = FreshDatabases()
    colegio, reportes = fd.new("bench")
    data = portal_data.build_handmade(colegio, reportes, seed_data_dir())
    uid, pw = portal_data.TEACHER_ID, portal_data.TEST_PASSWORD
    return fd, colegio, reportes, str(uid), pw


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=int, default=30)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    # The server starts with the portal image's settings (docker/portal/gunicorn.conf.py:
    # preload, timeouts, logging) and these flags on top. Default: 4 sync workers (2 per core).
    # The image's own process model (2 gthread workers x 4 threads per 1-CPU replica) is
    # `--worker-class gthread --workers 2 --gunicorn-threads 4`: more throughput here, but
    # wrk's 64 keep-alive connections spread unevenly over its threads and the dashboard's
    # p99 doubles (docs/PORTAL.md, Performance); behind HAProxy each thread gets at most one
    # connection (maxconn = workers x threads).
    ap.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    ap.add_argument("--gunicorn-threads", type=int, default=1, help="threads per worker (gthread)")
    ap.add_argument("--worker-class", default="sync", help="gunicorn --worker-class (sync, gthread)")
    ap.add_argument("--use-env", action="store_true", help="use CAOSKOL_*_URL and CAOSKOL_BENCH_ID/CLAVE")
    ap.add_argument("--out", default=str(REPO / "test-artifacts" / "bench" / "portal_wrk.json"))
    ap.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
    ap.add_argument("--session-check-ttl", type=float, default=None,
                    help="CAOSKOL_SESSION_CHECK_TTL for the server (default: the portal's default)")
    ap.add_argument("--report-state-ttl", type=float, default=None, help="CAOSKOL_REPORT_STATE_TTL for the server")
    args = ap.parse_args(argv)

    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    fd = None
    if args.use_env:
        colegio, reportes = os.environ["CAOSKOL_COLEGIO_URL"], os.environ["CAOSKOL_REPORTES_URL"]
        uid, pw = os.environ["CAOSKOL_BENCH_ID"], os.environ["CAOSKOL_BENCH_CLAVE"]
    else:
        fd, colegio, reportes, uid, pw = build_databases()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "CAOSKOL_ENV": "production", "CAOSKOL_SECRET_KEY": os.urandom(24).hex(),
           "CAOSKOL_COLEGIO_URL": colegio, "CAOSKOL_REPORTES_URL": reportes}
    if args.session_check_ttl is not None:
        env["CAOSKOL_SESSION_CHECK_TTL"] = str(args.session_check_ttl)
    if args.report_state_ttl is not None:
        env["CAOSKOL_REPORT_STATE_TTL"] = str(args.report_state_ttl)
    out_path = Path(args.out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(out_path.with_suffix(".gunicorn.log"), "w")
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    proc = subprocess.Popen(
        [gunicorn, "--config", str(GUNICORN_CONF), "--workers", str(args.workers), "--threads", str(args.gunicorn_threads),
         "--worker-class", args.worker_class, "--bind", f"127.0.0.1:{port}", "caoskol_portal:create_app()"],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    results: dict = {}
    try:
        wait_ready(base, proc)
        cookie = login(base, uid, pw)
        targets = {
            "trivial (/healthz)": (base + "/healthz", None),
            "dashboard (/profesor/)": (base + "/profesor/", cookie),
            "api (/api/v1/reporte/tablero)": (base + "/api/v1/reporte/tablero", cookie),
        }
        for _name, (url, ck) in targets.items():  # warm up: caches, connection pools, templates
            for _ in range(20):
                req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **({"Cookie": ck} if ck else {})})
                with urllib.request.urlopen(req, timeout=5) as r:
                    assert r.status == 200, (url, r.status)
        for name, (url, ck) in targets.items():
            results[name] = run_wrk(url, ck, args)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        if fd is not None:
            fd.drop_all()

    trivial = results["trivial (/healthz)"]
    dash = results["dashboard (/profesor/)"]
    ratio = dash["rps"] / trivial["rps"] if trivial["rps"] else 0.0
    checks = {
        f"dashboard >= {GOALS['dashboard_rps']:.0f} req/s": dash["rps"] >= GOALS["dashboard_rps"],
        f"dashboard p99 < {GOALS['dashboard_p99_ms']:.0f} ms": (dash["p99_ms"] or 1e9) < GOALS["dashboard_p99_ms"],
        "zero errors": all(r["errors"] == 0 for r in results.values()),
        f"dashboard >= {GOALS['ratio_to_trivial']:.0%} of trivial": ratio >= GOALS["ratio_to_trivial"],
    }
    kind = args.worker_class + (f" x{args.gunicorn_threads} threads" if args.worker_class == "gthread" else "")
    print(f"\nwrk -t{args.threads} -c{args.connections} -d{args.duration}s, gunicorn --workers {args.workers} ({kind}), "
          f"{os.cpu_count()} cores\n")
    print(f"{'endpoint':34} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name, r in results.items():
        print(f"{name:34} {r['rps']:9.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} {r['errors']:7d}")
    print(f"\ndashboard / trivial = {ratio:.0%}")
    for goal, ok in checks.items():
        print(f"  {'ok  ' if ok else 'MISS'} {goal}")
    report = {
        "fecha": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "maquina": {"cores": os.cpu_count(), "python": platform.python_version(), "plataforma": platform.platform()},
        "parametros": vars(args),
        "resultados": {k: {kk: vv for kk, vv in v.items() if kk != "raw"} for k, v in results.items()},
        "dashboard_sobre_trivial": ratio,
        "metas": checks,
        "wrk": {k: v["raw"] for k, v in results.items()},
    }
    out_path.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"\nfigures written to {out_path}")
    return 1 if args.strict and not all(checks.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
