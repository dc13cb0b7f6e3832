#!/usr/bin/env python3
"""Rehearse docker-swarm.yml's portal tier on one machine, with the real parts.

    .venv/bin/python scripts/rehearse_swarm.py                 # all four scenarios, ~1.5 min
    .venv/bin/python scripts/rehearse_swarm.py --data pipeline # report made by the real pipeline (+4 min)

What runs, all on loopback (no Docker engine is needed):

* Debian's ``haproxy`` with ``docker/haproxy/haproxy.cfg`` - the same file as the stacks,
  with only its two ``bind`` lines and the block of portal servers rewritten for loopback
  (``render_haproxy``), one server slot more than replicas: the slot a start-first update
  uses, as ``server-template`` keeps spare slots in Swarm;
* 3 portal replicas: ``gunicorn -c docker/portal/gunicorn.conf.py 'caoskol_portal:create_app()'``
  started through the image's ``docker/portal/entrypoint.py``, on 127.0.0.2, .3, .4 (one
  address per "container"), each with the environment of docker-swarm.yml's ``portal``
  service (hosts, database names and secret paths rendered for this machine; secrets are
  files, as in Swarm);
* the real MariaDB/MySQL on 127.0.0.1:3306: a pair of databases with the school's data and
  a published report, reached with the least-privilege portal account that
  ``docker/mysql/initdb.d/10-caoskol-users.sh`` creates (its SQL, applied here);
* Redis on 127.0.0.1:6379 (database 11 by default, emptied at start): the login limits the
  replicas share;
* ``wrk`` for load: 64 connections, bounded in time, to 127.0.0.1 only.

Scenarios (each returns its figures; tests/deploy asserts on them):

``spread``   requests reach every replica (response header ``X-Caoskol-Replica``, set by HAProxy);
``session``  a login made on one replica works on the others; logout on one ends it on all
             (within the stack's CAOSKOL_SESSION_CHECK_TTL);
             failed logins are counted across replicas (Redis);
``detect_idle`` one replica killed with no traffic: time until the health checks take it out;
``failover`` one replica killed (SIGKILL of its process group, as a crashed container) during
             a wrk run: time until HAProxy marks it DOWN, failed requests, time to rejoin;
``rolling``  every replica replaced one by one, start-first (new process up and UP in HAProxy,
             then SIGTERM to the old one), during a wrk run: failed requests.
"""

from __future__ import annotations

import argparse
import base64
import csv
import io
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
SWARM_FILE = REPO / "docker-swarm.yml"
HAPROXY_CFG = REPO / "docker" / "haproxy" / "haproxy.cfg"
ENTRYPOINT = REPO / "docker" / "portal" / "entrypoint.py"
GUNICORN_CONF = REPO / "docker" / "portal" / "gunicorn.conf.py"
MYSQL_INIT = REPO / "docker" / "mysql" / "initdb.d" / "10-caoskol-users.sh"
DEFAULT_OUT = REPO / "test-artifacts" / "deploy" / "rehearsal.json"

SERVERS_BEGIN = "# >>> portal servers"
SERVERS_END = "# <<< portal servers"
REPLICA_HEADER = "X-Caoskol-Replica"
SESSION_COOKIE = "caoskol_sesion"


# --- haproxy.cfg for loopback ------------------------------------------------------------


def render_haproxy(text: str, frontend: str, stats: str, servers: list[tuple[str, str]]) -> str:
    """The stacks' haproxy.cfg with its binds and portal servers pointed at loopback.

    Nothing else changes: timeouts, checks, retries, headers and the stats password are the
    file's own. Raises if the file no longer has exactly one of each rewritten part.
    """
    out, n = re.subn(r"(?m)^(\s*)bind :80\s*$", rf"\g<1>bind {frontend}", text)
    if n != 1:
        raise ValueError(f"haproxy.cfg: expected one 'bind :80' line, found {n}")
    out, n = re.subn(r"(?m)^(\s*)bind :8404\s*$", rf"\g<1>bind {stats}", out)
    if n != 1:
        raise ValueError(f"haproxy.cfg: expected one 'bind :8404' line, found {n}")
    lines = out.splitlines(keepends=True)
    begins = [i for i, line in enumerate(lines) if line.strip() == SERVERS_BEGIN]
    ends = [i for i, line in enumerate(lines) if line.strip() == SERVERS_END]
    if len(begins) != 1 or len(ends) != 1 or ends[0] < begins[0]:
        raise ValueError(f"haproxy.cfg: expected one '{SERVERS_BEGIN}' ... '{SERVERS_END}' block")
    indent = re.match(r"\s*", lines[begins[0]]).group(0)
    block = [f"{indent}server {name} {addr} check\n" for name, addr in servers]
    return "".join(lines[: begins[0] + 1] + block + lines[ends[0]:])


# --- the Swarm file's portal environment, for this machine --------------------------------

_INTERP = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}")


def interpolate(value: str, environ: dict[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    return _INTERP.sub(lambda m: environ.get(m.group(1)) or (m.group(2) or ""), value)


def swarm_service(name: str, path: Path = SWARM_FILE) -> dict[str, Any]:
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8"))["services"][name]


def as_env_dict(environment: Any) -> dict[str, str]:
    if isinstance(environment, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in environment)
    return {k: "" if v is None else str(v) for k, v in (environment or {}).items()}


@dataclass
class LocalTargets:
    """Where the stack's names point on this machine."""

    mysql_hostport: str  # "127.0.0.1:3306"
    colegio_db: str
    reportes_db: str
    portal_user: str
    redis_url: str
    data_dir: Path
    secrets_dir: Path


def render_portal_env(stack_env: dict[str, str], t: LocalTargets) -> dict[str, str]:
    env: dict[str, str] = {}
    for key, raw in stack_env.items():
        value = interpolate(raw, {})
        if value.startswith("/run/secrets/"):
            secret = t.secrets_dir / value.rsplit("/", 1)[1]
            if not secret.exists():
                raise ValueError(f"{key}: the rehearsal has no secret {secret.name}")
            value = str(secret)
        elif key in ("CAOSKOL_COLEGIO_URL", "CAOSKOL_REPORTES_URL"):
            value = value.replace("@mysql:3306/", f"@{t.mysql_hostport}/")
            value = value.replace("caoskol_portal@", f"{t.portal_user}@")
            value = re.sub(r"/colegio\?", f"/{t.colegio_db}?", value)
            value = re.sub(r"/caoskol_reportes\?", f"/{t.reportes_db}?", value)
        elif key == "CAOSKOL_RATELIMIT_STORAGE_URI":
            value = t.redis_url
        elif key == "CAOSKOL_DATA_DIR":
            value = str(t.data_dir)
        env[key] = value
    return env


# --- MySQL accounts from the stacks' init script --------------------------------------------


def init_script_sql(env: dict[str, str]) -> list[str]:
    """The SQL that docker/mysql/initdb.d/10-caoskol-users.sh prints for ``env``."""
    res = subprocess.run(["bash", "-e", "-o", "pipefail", str(MYSQL_INIT)], env={"PATH": os.environ["PATH"], **env},
                         capture_output=True, text=True, check=True)
    return [s.strip() for s in res.stdout.split(";\n") if s.strip()]


@dataclass
class Accounts:
    server_url: str  # mysql+mysqldb://root@127.0.0.1:3306 (whoever may create users)
    colegio_db: str
    reportes_db: str
    suffix: str = field(default_factory=lambda: secrets.token_hex(4))
    passwords: dict[str, str] = field(default_factory=dict)

    def user(self, role: str) -> str:
        return f"caoskol_{role}_{self.suffix}"

    def create(self) -> None:
        from sqlalchemy import create_engine

        self.passwords = {role: secrets.token_urlsafe(18) + "'\\:@/" for role in ("admin", "pipeline", "portal")}
        env = {"CAOSKOL_COLEGIO_DB": self.colegio_db, "CAOSKOL_REPORTES_DB": self.reportes_db}
        for role, pw in self.passwords.items():
            env[f"CAOSKOL_{role.upper()}_DB_USER"] = self.user(role)
            env[f"CAOSKOL_{role.upper()}_DB_PASSWORD"] = pw
        eng = create_engine(self.server_url + "/")
        raw = eng.raw_connection()  # the driver's cursor as is: no %-formatting of 'user'@'%'
        try:
            cur = raw.cursor()
            for stmt in init_script_sql(env):
                cur.execute(stmt)
            raw.commit()
        finally:
            raw.close()
            eng.dispose()

    def drop(self) -> None:
        from sqlalchemy import create_engine

        eng = create_engine(self.server_url + "/")
        raw = eng.raw_connection()
        try:
            cur = raw.cursor()
            for role in ("admin", "pipeline", "portal"):
                cur.execute(f"DROP USER IF EXISTS '{self.user(role)}'@'%'")
            raw.commit()
        finally:
            raw.close()
            eng.dispose()

    def url(self, role: str, database: str) -> str:
        host = self.server_url.split("@", 1)[1]
        pw = urllib.parse.quote(self.passwords[role], safe="")
        return f"mysql+mysqldb://{self.user(role)}:{pw}@{host}/{database}?charset=utf8mb4"


# --- processes ---------------------------------------------------------------------------------


def free_port(hosts: list[str]) -> int:
    """A port free on every one of ``hosts`` (each replica has its own address)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind((hosts[0], 0))
            port = s.getsockname()[1]
        try:
            for h in hosts[1:]:
                with socket.socket() as s:
                    s.bind((h, port))
            return port
        except OSError:
            continue
    raise RuntimeError("no common free port")


class Replica:
    def __init__(self, slot: int, host: str, port: int, env: dict[str, str], log_dir: Path) -> None:
        self.slot, self.host, self.port = slot, host, port
        self.name = f"portal{slot}"
        self.env = env
        self.log_path = log_dir / f"{self.name}.log"
        self.proc: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> None:
        env = {**self.env, "CAOSKOL_PORTAL_BIND": self.address}
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, str(ENTRYPOINT), gunicorn, "--config", str(GUNICORN_CONF), "caoskol_portal:create_app()"],
            env=env, cwd=str(REPO), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: master + workers, like one container
        )
        log.close()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{self.address}/healthz", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL to master and workers at once: a crashed container."""
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)

    def begin_terminate(self) -> None:
        """SIGTERM to the master only (what `docker stop` does to PID 1); returns at once."""
        self.term_sent = time.monotonic()
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)

    def wait_exit(self, timeout: float = 40) -> float:
        """Seconds from SIGTERM to the process's exit (SIGKILL after ``timeout``)."""
        if self.proc is not None:
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return time.monotonic() - getattr(self, "term_sent", time.monotonic())

    def terminate(self, timeout: float = 40) -> float:
        """SIGTERM to the master only (what `docker stop` does to PID 1); seconds until exit."""
        if not self.alive():
            return 0.0
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        return time.monotonic() - t0

    def stop(self) -> None:
        if self.alive():
            self.terminate(timeout=15)
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # leftovers of the group, if any
            except (ProcessLookupError, PermissionError):
                pass


def wait_until(pred: Callable[[], bool], timeout: float, interval: float = 0.05) -> float:
    """Seconds until ``pred()`` held; raises TimeoutError."""
    t0 = time.monotonic()
    while True:
        if pred():
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(f"condition not met within {timeout} s")
        time.sleep(interval)


# --- HTTP through HAProxy ------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def replica(self) -> str | None:
        return self.headers.get(REPLICA_HEADER.lower())

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


def http(method: str, url: str, *, cookie: str | None = None, data: bytes | None = None,
         headers: dict[str, str] | None = None, timeout: float = 10) -> Response:
    """One request on a new connection (so HAProxy balances each one)."""
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if cookie:
        req.add_header("Cookie", cookie)
    try:
        with _OPENER.open(req, timeout=timeout) as r:
            return Response(r.status, {k.lower(): v for k, v in r.headers.items()}, r.read())
    except urllib.error.HTTPError as e:
        return Response(e.code, {k.lower(): v for k, v in e.headers.items()}, e.read())


def session_cookie(resp: Response, previous: str | None) -> str | None:
    raw = resp.headers.get("set-cookie", "")
    m = re.search(rf"{SESSION_COOKIE}=([^;]*)", raw)
    return f"{SESSION_COOKIE}={m.group(1)}" if m else previous


# --- wrk ---------------------------------------------------------------------------------------------


def _to_ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        raise ValueError(f"unexpected latency {text!r}")
    return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[m.group(2)]


def parse_wrk(output: str) -> dict[str, Any]:
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", output)
    if not m:
        raise ValueError(f"cannot read wrk's output:\n{output}")
    total = int(m.group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    pct = {p: _to_ms(v) for p, v in re.findall(r"^\s+(50|90|99)%\s+(\S+)", output, re.M)}
    socket_errors = {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if m:
        socket_errors = dict(zip(socket_errors, map(int, m.groups())))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    non_2xx = int(m.group(1)) if m else 0
    errors = non_2xx + sum(socket_errors.values())
    return {
        "requests": total, "rps": rps, "errors": errors, "non_2xx_3xx": non_2xx, "socket_errors": socket_errors,
        "error_rate": errors / total if total else 1.0,
        "p50_ms": pct.get("50"), "p90_ms": pct.get("90"), "p99_ms": pct.get("99"),
    }


class Wrk:
    """``wrk`` in the background against one URL; ``result()`` waits for it (bounded by -d)."""

    def __init__(self, url: str, duration: int, connections: int, cookie: str | None, threads: int = 2) -> None:
        host = urllib.parse.urlsplit(url).hostname or ""
        if not host.startswith("127."):
            raise ValueError("the rehearsal sends load to loopback addresses only")
        # Niced: on a 2-core machine the load generator must not starve the processes it
        # measures (a replica booting during a rolling update needs its share of CPU).
        cmd = ["nice", "-n", "10", "wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency",
               "--timeout", "5s"]
        if cookie:
            cmd += ["-H", f"Cookie: {cookie}"]
        self.duration = duration
        self.started = time.monotonic()
        self.proc = subprocess.Popen(cmd + [url], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def result(self) -> dict[str, Any]:
        out, _ = self.proc.communicate(timeout=self.duration + 30)
        if self.proc.returncode != 0:
            raise RuntimeError(f"wrk failed ({self.proc.returncode}):\n{out}")
        res = parse_wrk(out)
        res["raw"] = out
        return res


# --- the rehearsal ----------------------------------------------------------------------------------


@dataclass
class Login:
    user_id: int
    password: str
    home: str  # the page a logged-in user of this role opens, e.g. /profesor/


class Rehearsal:
    def __init__(self, colegio_url: str, reportes_url: str, login: Login, *, replicas: int = 3,
                 workdir: Path | None = None, server_url: str | None = None, redis_db: int | None = None,
                 workers: int | None = None) -> None:
        from sqlalchemy.engine import make_url

        self.login_as = login
        self.n = replicas
        # gunicorn processes per replica. The stack runs 2 per replica with 1 CPU each; here
        # 3 replicas, HAProxy and the load share 2 cores, so one process each keeps the
        # machine as loaded per replica as a Swarm node and lets a replacement boot in
        # seconds. Everything else is the stack's own environment.
        self.workers = int(os.environ.get("CAOSKOL_REHEARSAL_WORKERS", "1")) if workers is None else workers
        col, rep = make_url(colegio_url), make_url(reportes_url)
        self.server_url = server_url or f"mysql+mysqldb://{col.username or 'root'}" + \
            (f":{urllib.parse.quote(col.password, safe='')}" if col.password else "") + f"@{col.host}:{col.port or 3306}"
        self.mysql_hostport = f"{col.host}:{col.port or 3306}"
        self.colegio_db, self.reportes_db = col.database, rep.database
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="caoskol-rehearsal-"))
        self.redis_db = int(os.environ.get("CAOSKOL_REHEARSAL_REDIS_DB", "11")) if redis_db is None else redis_db
        self.accounts = Accounts(self.server_url, self.colegio_db, self.reportes_db)
        self.hosts = [f"127.0.0.{i + 2}" for i in range(replicas + 1)]  # +1: the start-first slot
        self.replicas: list[Replica] = []
        self.spare: Replica | None = None
        self.haproxy: subprocess.Popen | None = None
        self.stats_password = secrets.token_urlsafe(16)
        self.figures: dict[str, Any] = {}

    # -- life cycle --------------------------------------------------------------------------------

    def start(self, timeout: float = 60) -> None:
        for sub in ("secrets", "data", "logs"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.workdir / "secrets", 0o700)
        self.accounts.create()
        self._write_secret("caoskol_secret_key", secrets.token_hex(32))
        self._write_secret("mysql_portal_password", self.accounts.passwords["portal"])
        self._flush_redis()

        targets = LocalTargets(self.mysql_hostport, self.colegio_db, self.reportes_db, self.accounts.user("portal"),
                               f"redis://127.0.0.1:6379/{self.redis_db}", self.workdir / "data", self.workdir / "secrets")
        self.portal_env = render_portal_env(as_env_dict(swarm_service("portal")["environment"]), targets)
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("CAOSKOL_")}
        env = {**base_env, **self.portal_env, "GUNICORN_WORKERS": str(self.workers)}

        port = free_port(self.hosts)
        slots = [Replica(i + 1, h, port, env, self.workdir / "logs") for i, h in enumerate(self.hosts)]
        self.replicas, self.spare = slots[: self.n], slots[self.n]
        self.front_port = free_port(["127.0.0.1"])
        self.stats_port = free_port(["127.0.0.1"])
        cfg = render_haproxy(HAPROXY_CFG.read_text(encoding="utf-8"), f"127.0.0.1:{self.front_port}",
                             f"127.0.0.1:{self.stats_port}", [(r.name, r.address) for r in slots])
        self.haproxy_cfg = self.workdir / "haproxy.cfg"
        self.haproxy_cfg.write_text(cfg, encoding="utf-8")
        check = subprocess.run(["haproxy", "-c", "-f", str(self.haproxy_cfg)], capture_output=True, text=True,
                               env={**os.environ, "HAPROXY_STATS_PASSWORD": self.stats_password})
        if check.returncode != 0:
            raise RuntimeError(f"haproxy -c failed on the rendered configuration:\n{check.stdout}{check.stderr}")

        for r in self.replicas:
            r.start()
        for r in self.replicas:
            wait_until(lambda r=r: (r.alive() or self._died(r)) and r.healthy(), timeout)
        log = open(self.workdir / "logs" / "haproxy.log", "ab")
        self.haproxy = subprocess.Popen(["haproxy", "-W", "-db", "-f", str(self.haproxy_cfg)], stdout=log,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                                        env={**os.environ, "HAPROXY_STATS_PASSWORD": self.stats_password})
        log.close()
        wait_until(lambda: self._states_are({r.name: "UP" for r in self.replicas} | {self.spare.name: "DOWN"}), timeout)

    def _died(self, r: Replica) -> bool:
        if r.proc is not None and r.proc.poll() is not None:
            raise RuntimeError(f"{r.name} exited ({r.proc.returncode}); log: {r.log_path}\n"
                               + r.log_path.read_text(errors="replace")[-3000:])
        return False

    def _write_secret(self, name: str, value: str) -> None:
        path = self.workdir / "secrets" / name
        path.write_text(value + "\n", encoding="utf-8")
        os.chmod(path, 0o600)

    def _flush_redis(self) -> None:
        import redis

        client = redis.Redis(host="127.0.0.1", port=6379, db=self.redis_db)
        client.flushdb()
        client.close()

    def stop(self) -> None:
        if self.haproxy is not None and self.haproxy.poll() is None:
            self.haproxy.terminate()
            try:
                self.haproxy.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.haproxy.kill()
        for r in [*self.replicas, *([self.spare] if self.spare else [])]:
            r.stop()
        try:
            self.accounts.drop()
        except Exception as exc:  # noqa: BLE001 - cleanup must go on
            print(f"rehearsal: could not drop the MySQL accounts: {exc}", file=sys.stderr)

    def __enter__(self) -> "Rehearsal":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- observing HAProxy -----------------------------------------------------------------------------

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.front_port}"

    def stats_auth(self, password: str | None = None) -> str:
        token = base64.b64encode(f"admin:{password or self.stats_password}".encode()).decode()
        return f"Basic {token}"

    def server_states(self) -> dict[str, str]:
        """HAProxy's view of each portal server: UP, DOWN, 'UP 1/2' (going down), ..."""
        resp = http("GET", f"http://127.0.0.1:{self.stats_port}/stats;csv",
                    headers={"Authorization": self.stats_auth()}, timeout=5)
        if resp.status != 200:
            raise RuntimeError(f"stats page answered {resp.status}")
        text = resp.body.decode().lstrip("# ")
        return {row["svname"]: row["status"] for row in csv.DictReader(io.StringIO(text))
                if row["pxname"] == "portal" and row["svname"] not in ("FRONTEND", "BACKEND")}

    def _states_are(self, wanted: dict[str, str]) -> bool:
        try:
            states = self.server_states()
        except (OSError, RuntimeError):
            return False
        return all(states.get(k) == v for k, v in wanted.items())

    def check_timing(self) -> dict[str, float]:
        """inter, fastinter, fall, rise from the default-server line of the file in use."""
        m = re.search(r"(?m)^\s*default-server\s+(.*)$", self.haproxy_cfg.read_text())
        words = m.group(1).split()
        opts = dict(zip(words[::2], words[1::2]))

        def secs(v: str) -> float:
            return float(v[:-2]) / 1000 if v.endswith("ms") else float(v.rstrip("s"))

        return {"inter": secs(opts["inter"]), "fastinter": secs(opts.get("fastinter", opts["inter"])),
                "fall": int(opts["fall"]), "rise": int(opts["rise"])}

    # -- logging in ------------------------------------------------------------------------------------

    def login(self) -> tuple[str, list[str]]:
        """Log in through the form with its CSRF token; (cookie, replicas that served the steps)."""
        first = http("GET", self.base + "/api/v1/sesion")
        cookie = session_cookie(first, None)
        token = first.json()["csrf_token"]
        form = urllib.parse.urlencode({"id": str(self.login_as.user_id), "clave": self.login_as.password,
                                       "csrf_token": token}).encode()
        resp = http("POST", self.base + "/login", cookie=cookie, data=form,
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
        if resp.status != 302:
            raise RuntimeError(f"login answered {resp.status}: {resp.body[:300]!r}")
        return session_cookie(resp, cookie), [first.replica, resp.replica]

    # -- scenarios ---------------------------------------------------------------------------------------

    def spread(self, requests: int = 30, record: bool = True) -> dict[str, Any]:
        counts: dict[str, int] = {}
        statuses = set()
        for _ in range(requests):
            r = http("GET", self.base + "/healthz")
            statuses.add(r.status)
            counts[r.replica or "?"] = counts.get(r.replica or "?", 0) + 1
        res = {"requests": requests, "per_replica": dict(sorted(counts.items())), "statuses": sorted(statuses)}
        if record:
            self.figures["spread"] = res
        return res

    def session(self) -> dict[str, Any]:
        cookie, login_replicas = self.login()
        pages = []
        for _ in range(2 * self.n):
            r = http("GET", self.base + self.login_as.home, cookie=cookie)
            pages.append({"replica": r.replica, "status": r.status})
            cookie = session_cookie(r, cookie)
        # Logout on whichever replica comes next, with the session's CSRF token...
        tok = http("GET", self.base + "/api/v1/sesion", cookie=cookie)
        token = tok.json()["csrf_token"]
        out = http("POST", self.base + "/logout", cookie=cookie, headers={"X-CSRFToken": token})
        # ...and the same cookie no longer opens the page on any replica: at once on the one
        # that handled the logout, within CAOSKOL_SESSION_CHECK_TTL on the others (each process
        # re-reads an account at most that often).
        def each_replica() -> list[dict[str, Any]]:
            seen = []
            for _ in range(self.n):
                r = http("GET", self.base + self.login_as.home, cookie=cookie)
                seen.append({"replica": r.replica, "status": r.status, "location": r.headers.get("location", "")})
            return seen

        at_once = each_replica()
        ttl = float(self.portal_env.get("CAOSKOL_SESSION_CHECK_TTL", "0") or 0)
        time.sleep(ttl + 0.2)
        after = each_replica()
        # Failed logins counted across replicas: the account limit (5 per 15 minutes) holds
        # even though round robin spreads the attempts.
        attempts = []
        fake_id = str(900000 + secrets.randbelow(99999))
        for _ in range(7):
            r = http("POST", self.base + "/api/v1/sesion", data=json.dumps({"id": fake_id, "clave": "mala"}).encode(),
                     headers={"Content-Type": "application/json"})
            attempts.append({"replica": r.replica, "status": r.status})
        res = {"login_replicas": login_replicas, "pages": pages, "logout": {"replica": out.replica, "status": out.status},
               "right_after_logout": at_once, "session_check_ttl": ttl, "after_logout": after,
               "failed_logins": attempts}
        self.figures["session"] = res
        return res

    def detect_idle(self, victim: int = 0) -> dict[str, Any]:
        """A replica killed with no traffic: only the active health checks can notice."""
        timing = self.check_timing()
        target = self.replicas[victim]
        target.kill()
        detect = wait_until(lambda: self._states_are({target.name: "DOWN"}), 20, interval=0.02)
        target.start()
        ready = wait_until(lambda: target.healthy() or self._died(target), 30)
        rejoin = wait_until(lambda: self._states_are({target.name: "UP"}), 30)
        out = {"killed": target.name, "detect_s": round(detect, 3),
               "detect_bound_s": timing["inter"] + (timing["fall"] - 1) * timing["fastinter"],
               "process_ready_s": round(ready, 2), "rejoin_s": round(ready + rejoin, 2)}
        self.figures["detect_idle"] = out
        return out

    def _load(self, duration: int, connections: int) -> Wrk:
        cookie, _ = self.login()
        url = self.base + self.login_as.home
        for _ in range(3 * self.n):  # warm every replica (templates, caches, pools)
            http("GET", url, cookie=cookie)
        return Wrk(url, duration, connections, cookie)

    def failover(self, duration: int = 30, connections: int = 64, kill_at: float = 8.0,
                 restart_after: float = 4.0, victim: int = 1) -> dict[str, Any]:
        timing = self.check_timing()
        target = self.replicas[victim]
        wrk = self._load(duration, connections)
        time.sleep(kill_at)
        target.kill()
        killed_at = wrk.elapsed()
        detect = wait_until(lambda: self._states_are({target.name: "DOWN"}), 20, interval=0.02)
        time.sleep(restart_after)
        target.start()
        restarted_at = wrk.elapsed()
        up_process = wait_until(lambda: target.healthy() or self._died(target), 30)
        rejoin = wait_until(lambda: self._states_are({target.name: "UP"}), 30, interval=0.05)
        rejoined_at = wrk.elapsed()
        res = wrk.result()
        after = self.spread(requests=3 * self.n, record=False)["per_replica"]
        out = {
            "connections": connections, "duration_s": duration, "endpoint": self.login_as.home,
            **{k: v for k, v in res.items() if k != "raw"},
            "killed": target.name, "killed_at_s": round(killed_at, 2),
            "detect_s": round(detect, 3),
            "detect_bound_s": timing["inter"] + (timing["fall"] - 1) * timing["fastinter"],
            "check": timing,
            "restarted_at_s": round(restarted_at, 2), "process_ready_s": round(up_process, 2),
            "rejoin_s": round(up_process + rejoin, 2), "rejoined_at_s": round(rejoined_at, 2),
            "spread_after_rejoin": after, "wrk": res["raw"],
        }
        self.figures["failover"] = out
        return out

    def rolling(self, duration: int = 60, connections: int = 64, start_at: float = 3.0) -> dict[str, Any]:
        """Needs the whole load run to cover the three replacements: on 2 busy cores a new
        gunicorn takes several seconds to start, so the default run is 60 s."""
        wrk = self._load(duration, connections)
        time.sleep(start_at)
        steps = []
        for i in range(len(self.replicas)):
            old, new = self.replicas[i], self.spare
            t0 = wrk.elapsed()
            if new.alive():  # the slot's previous process still finishing its graceful stop
                steps[-1]["stop_s"] = round(new.wait_exit(), 2)
            new.start()  # start-first: the new task runs before the old one stops
            wait_until(lambda: new.healthy() or self._died(new), 30)
            wait_until(lambda: self._states_are({new.name: "UP"}), 30)
            old.begin_terminate()  # gunicorn finishes what it is serving, takes nothing new
            wait_until(lambda: self._states_are({old.name: "DOWN"}), 30)
            self.replicas[i], self.spare = new, old
            steps.append({"replaced": old.name, "by": new.name, "from_s": round(t0, 2), "to_s": round(wrk.elapsed(), 2)})
        finished_at = wrk.elapsed()  # every replica replaced and the old ones out of HAProxy
        steps[-1]["stop_s"] = round(self.spare.wait_exit(), 2)
        res = wrk.result()
        out = {"connections": connections, "duration_s": duration, "endpoint": self.login_as.home,
               **{k: v for k, v in res.items() if k != "raw"}, "steps": steps,
               "rolled_within_load": finished_at < duration, "finished_at_s": round(finished_at, 2),
               "replicas_after": [r.name for r in self.replicas], "wrk": res["raw"]}
        self.figures["rolling"] = out
        return out

    def report(self) -> dict[str, Any]:
        return {
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": {"cores": os.cpu_count(), "python": sys.version.split()[0],
                        "haproxy": _first_line(["haproxy", "-v"]), "wrk": _first_line(["wrk", "-v"])},
            "replicas": self.n,
            "gunicorn": {"workers": self.workers, "threads": self.portal_env.get("GUNICORN_THREADS"),
                         "stack_workers": self.portal_env.get("GUNICORN_WORKERS")},
            **self.figures,
        }


def _first_line(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=5)
        return (out.stdout or out.stderr).splitlines()[0].strip()
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"


def write_report(report: dict[str, Any], path: Path = DEFAULT_OUT) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    return path


# --- data, when run by hand -------------------------------------------------------------------------


def build_data(kind: str):
    """A fresh pair of databases with the school's data and a published report (the portal
    tests' builder: ``handmade`` in seconds, ``pipeline`` = real pipeline runs, minutes)."""
    import importlib.util

    os.environ.setdefault("CAOSKOL_PASSWORD_HASH_METHOD", "pbkdf2:sha256:1000")
    spec = importlib.util.spec_from_file_location("caoskol_tests_conftest", REPO / "tests" / "conftest.py")
    conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conftest)
    sys.path.insert(0, str(REPO / "tests" / "portal"))
    import portal_data

    fd = conftest.FreshDatabases()
    colegio, reportes = fd.new("rehearsal")
    builder = portal_data.build_with_pipeline if kind == "pipeline" else portal_data.build_handmade
    data = builder(colegio, reportes, conftest.seed_data_dir())
    return fd, data, Login(portal_data.TEACHER_ID, portal_data.TEST_PASSWORD, "/profesor/")


def summary(report: dict[str, Any]) -> str:
    lines = []
    if "spread" in report:
        lines.append(f"spread    {report['spread']['per_replica']}")
    if "session" in report:
        s = report["session"]
        lines.append(f"session   pages {[(p['replica'], p['status']) for p in s['pages']]}; logout {s['logout']['status']}; "
                     f"after {[a['status'] for a in s['after_logout']]}; failed logins {[a['status'] for a in s['failed_logins']]}")
    for key in ("failover", "rolling"):
        if key in report:
            r = report[key]
            lines.append(f"{key:9} {r['requests']} requests, {r['rps']:.0f} req/s, {r['errors']} errors "
                         f"({100 * r['error_rate']:.3f}%), p99 {r['p99_ms']} ms")
    if "detect_idle" in report:
        d = report["detect_idle"]
        lines.append(f"checks    {d['killed']} killed, no traffic: DOWN after {d['detect_s']} s (bound {d['detect_bound_s']} s), "
                     f"back UP {d['rejoin_s']} s after restart")
    if "failover" in report:
        f = report["failover"]
        lines.append(f"          {f['killed']} killed at {f['killed_at_s']} s: DOWN after {f['detect_s']} s "
                     f"(bound {f['detect_bound_s']} s), back UP {f['rejoin_s']} s after restart")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", choices=("handmade", "pipeline"), default="handmade")
    ap.add_argument("--duration", type=int, default=30, help="seconds of the failover's wrk run (30..60)")
    ap.add_argument("--rolling-duration", type=int, default=60, help="seconds of the rolling restart's wrk run")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--replicas", type=int, default=3)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    fd, data, login = build_data(args.data)
    try:
        with Rehearsal(data.colegio_url, data.reportes_url, login, replicas=args.replicas) as reh:
            reh.spread()
            reh.session()
            reh.detect_idle()
            reh.failover(duration=args.duration, connections=args.connections)
            reh.rolling(duration=args.rolling_duration, connections=args.connections)
            report = reh.report()
            report["data"] = args.data
    finally:
        fd.drop_all()
    print(summary(report))
    print(f"figures: {write_report(report, args.out)}")
    f, r = report["failover"], report["rolling"]
    ok = (f["error_rate"] < 0.001 and f["detect_s"] <= f["detect_bound_s"] + 0.5 and r["errors"] == 0
          and r["rolled_within_load"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
