"""The portal image's entrypoint (secrets from files into the environment) and health check,
run as the image runs them."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from sqlalchemy.engine import make_url

from deploy_support import REPO

ENTRYPOINT = REPO / "docker" / "portal" / "entrypoint.py"
HEALTHCHECK = REPO / "docker" / "portal" / "healthcheck.py"


def load_entrypoint():
    spec = importlib.util.spec_from_file_location("caoskol_entrypoint", ENTRYPOINT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


ep = load_entrypoint()


def test_secret_files_become_variables_and_the_password_goes_into_the_urls(tmp_path):
    (tmp_path / "key").write_text("k" * 40 + "\n")
    (tmp_path / "pw").write_text("p@ss:w/rd'%\\ñ\n")
    env = {
        "CAOSKOL_SECRET_KEY_FILE": str(tmp_path / "key"),
        "CAOSKOL_DB_PASSWORD_FILE": str(tmp_path / "pw"),
        "CAOSKOL_COLEGIO_URL": "mysql+mysqldb://caoskol_portal@mysql:3306/colegio?charset=utf8mb4",
        "CAOSKOL_REPORTES_URL": "mysql+mysqldb://caoskol_portal@mysql:3306/caoskol_reportes?charset=utf8mb4",
        "OTHER_FILE": "/nonexistent",  # not ours: untouched
    }
    ep.resolve(env)
    assert env["CAOSKOL_SECRET_KEY"] == "k" * 40
    for key, db in (("CAOSKOL_COLEGIO_URL", "colegio"), ("CAOSKOL_REPORTES_URL", "caoskol_reportes")):
        url = make_url(env[key])  # what the portal's SQLAlchemy will read
        assert (url.username, url.password, url.host, url.port, url.database) == \
            ("caoskol_portal", "p@ss:w/rd'%\\ñ", "mysql", 3306, db)
        assert url.query["charset"] == "utf8mb4"


def test_a_url_with_its_own_password_is_left_alone():
    env = {"CAOSKOL_DB_PASSWORD": "new", "CAOSKOL_COLEGIO_URL": "mysql+mysqldb://u:old@h/colegio"}
    ep.resolve(env)
    assert env["CAOSKOL_COLEGIO_URL"] == "mysql+mysqldb://u:old@h/colegio"


@pytest.mark.parametrize("case", ["both", "missing", "empty"])
def test_refuses_an_ambiguous_or_unreadable_secret(tmp_path, case):
    (tmp_path / "empty").write_text("\n")
    env = {"both": {"CAOSKOL_SECRET_KEY": "a" * 20, "CAOSKOL_SECRET_KEY_FILE": str(tmp_path / "empty")},
           "missing": {"CAOSKOL_SECRET_KEY_FILE": str(tmp_path / "nope")},
           "empty": {"CAOSKOL_SECRET_KEY_FILE": str(tmp_path / "empty")}}[case]
    with pytest.raises(ep.EntrypointError):
        ep.resolve(env)


def test_the_entrypoint_execs_the_command_with_the_secrets(tmp_path):
    (tmp_path / "key").write_text("s" * 32)
    env = {"PATH": os.environ["PATH"], "CAOSKOL_SECRET_KEY_FILE": str(tmp_path / "key")}
    res = subprocess.run([sys.executable, str(ENTRYPOINT), sys.executable, "-c",
                          "import os; print(os.environ['CAOSKOL_SECRET_KEY'])"], env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "s" * 32
    assert "s" * 32 not in res.stderr  # the log names the variables, never the values


def test_the_entrypoint_stops_the_container_on_a_bad_secret(tmp_path):
    env = {"PATH": os.environ["PATH"], "CAOSKOL_SECRET_KEY_FILE": str(tmp_path / "absent")}
    res = subprocess.run([sys.executable, str(ENTRYPOINT), "true"], env=env, capture_output=True, text=True)
    assert res.returncode == 1 and "CAOSKOL_SECRET_KEY_FILE" in res.stderr


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):  # noqa: N802
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("status,expected", [(200, 0), (503, 1)])
def test_the_healthcheck_asks_healthz_on_the_bound_port(status, expected):
    handler = type("H", (_Health,), {"status": status})
    server = HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = {"PATH": os.environ["PATH"], "CAOSKOL_PORTAL_BIND": f"0.0.0.0:{server.server_port}"}
        res = subprocess.run([sys.executable, str(HEALTHCHECK)], env=env, capture_output=True, text=True, timeout=10)
        assert res.returncode == expected, res.stderr
    finally:
        server.shutdown()


def test_the_healthcheck_fails_when_nothing_listens():
    env = {"PATH": os.environ["PATH"], "CAOSKOL_PORTAL_BIND": "127.0.0.1:9"}
    res = subprocess.run([sys.executable, str(HEALTHCHECK)], env=env, capture_output=True, text=True, timeout=10)
    assert res.returncode == 1
