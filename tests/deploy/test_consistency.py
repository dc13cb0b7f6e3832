"""The images, the Compose file and the Swarm file agree with each other and with the code:
variables, names, ports, secrets, database accounts, versions. Each fact is read from where
it lives (settings.py, caoskol/config.py, requirements.lock, haproxy.cfg...), never copied
into this test."""

from __future__ import annotations

import ast
import json
import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from caoskol import config as caoskol_config
from caoskol import schema
from deploy_support import REPO, rehearse

PORTAL_SRC = REPO / "web" / "caoskol_portal"
HAPROXY = (REPO / "docker" / "haproxy" / "haproxy.cfg").read_text(encoding="utf-8")
ENV_EXAMPLE = REPO / ".env.example"
INIT_SQL_SCRIPT = REPO / "docker" / "mysql" / "initdb.d" / "10-caoskol-users.sh"
VAR = re.compile(r"^CAOSKOL_[A-Z0-9_]+$")
INTERP = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?])?([^}]*)\}")


def env_of(service: dict) -> dict[str, str]:
    return rehearse.as_env_dict(service.get("environment"))


def lock_pins() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.lock").read_text(encoding="utf-8").splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        if m:
            pins[m.group(1).lower().replace("_", "-")] = m.group(2)
    return pins


def names_in(path: Path) -> list[str]:
    return [line.split("#")[0].strip().lower() for line in path.read_text().splitlines() if line.split("#")[0].strip()]


# --- what the portal reads ---------------------------------------------------------------------------


def _string_constants(tree: ast.AST) -> set[str]:
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str) and VAR.match(n.value)}


def portal_variables() -> set[str]:
    """CAOSKOL_* names in the portal's code, plus those read by the `caoskol` functions it calls
    (config.data_dir(), config.password_hash_method(), db.colegio_url()...)."""
    found: set[str] = set()
    called: set[tuple[str, str]] = set()
    aliases = {"caoskol_config": "config", "config": "config", "db": "db"}
    for path in PORTAL_SRC.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found |= _string_constants(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
                called.add((aliases[node.value.id], node.attr))
    for module in ("config", "db"):
        tree = ast.parse((REPO / "caoskol" / f"{module}.py").read_text(encoding="utf-8"))
        for fn in tree.body:
            if isinstance(fn, ast.FunctionDef) and (module, fn.name) in called:
                found |= _string_constants(fn)
    return found


def test_the_scan_finds_the_documented_variables():
    doc = (PORTAL_SRC / "settings.py").read_text(encoding="utf-8").split('"""', 2)[1]
    documented = set(re.findall(r"``(CAOSKOL_[A-Z_]+)``", doc))
    assert documented and documented <= portal_variables()
    assert {"CAOSKOL_DATA_DIR", "CAOSKOL_PASSWORD_HASH_METHOD"} <= portal_variables()


@pytest.mark.parametrize("stack", ["swarm", "compose"])
def test_every_variable_the_portal_reads_is_set_by_the_stack(stack, swarm, compose):
    env = env_of({"swarm": swarm, "compose": compose}[stack]["services"]["portal"])
    missing = sorted(v for v in portal_variables() if v not in env and f"{v}_FILE" not in env)
    assert not missing, f"{stack}: the portal reads {missing} but the stack does not set them"
    unknown = sorted(k for k in env if k.startswith("CAOSKOL_") and k.removesuffix("_FILE") not in portal_variables()
                     and k not in ("CAOSKOL_DB_PASSWORD", "CAOSKOL_DB_PASSWORD_FILE", "CAOSKOL_PORTAL_BIND"))
    assert not unknown, f"{stack}: sets {unknown}, which nothing reads"


def test_both_stacks_configure_the_portal_alike(swarm, compose):
    s, c = env_of(swarm["services"]["portal"]), env_of(compose["services"]["portal"])
    assert {k.removesuffix("_FILE") for k in s} == {k.removesuffix("_FILE") for k in c}
    for key in set(s) & set(c):
        if "${" not in s[key] + c[key]:
            assert s[key] == c[key], key
    assert s["CAOSKOL_ENV"] == "production" and s["CAOSKOL_TRUST_PROXY"] == "1"
    assert s["CAOSKOL_RATELIMIT_STORAGE_URI"].startswith("redis://redis:")
    assert "redis" in swarm["services"] and "redis" in compose["services"]


# --- secrets and passwords ---------------------------------------------------------------------------------


def test_swarm_secrets_are_declared_mounted_and_used(swarm):
    declared = set(swarm["secrets"])
    used = set()
    for name, svc in swarm["services"].items():
        mounted = {s if isinstance(s, str) else s["source"] for s in svc.get("secrets", [])}
        assert mounted <= declared, name
        used |= mounted
        for key, value in env_of(svc).items():
            if str(value).startswith("/run/secrets/"):
                assert value.rsplit("/", 1)[1] in mounted, f"{name}.{key} reads a secret it does not mount"
        entry = " ".join(svc.get("entrypoint") or [])
        for secret in re.findall(r"/run/secrets/([a-z_]+)", entry):
            assert secret in mounted, name
    assert used == declared
    assert all(s.get("external") for s in swarm["secrets"].values())


def env_example() -> dict[str, str]:
    out = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#") and "=" in line:
            k, v = line.split("=", 1)
            out[k] = v.strip('"')
    return out


def test_compose_takes_every_value_from_env_or_a_default():
    text = (REPO / "docker-compose.airflow.yml").read_text(encoding="utf-8")
    example = env_example()
    for name, op, _ in INTERP.findall(text):
        if op in ("", ":?", "?"):
            assert name in example, f"${{{name}}} has no default and is not in .env.example"
    used = {name for name, _, _ in INTERP.findall(text)}
    assert not set(example) - used, f".env.example lists unused {sorted(set(example) - used)}"


def test_no_password_is_written_in_the_stack_files(swarm, compose):
    secretish = re.compile(r"(PASSWORD|SECRET|SECRET_KEY|FERNET_KEY|JWT_SECRET)$")
    for stack_name, stack in (("swarm", swarm), ("compose", compose)):
        for name, svc in stack["services"].items():
            for key, value in env_of(svc).items():
                value = str(value)
                if secretish.search(key) and not key.endswith("_FILE"):
                    assert value.startswith("${") and value.endswith("}"), f"{stack_name}.{name}.{key}"
                if key.startswith("AIRFLOW_CONN_") and '"password"' in value:
                    assert '"password": "${' in value, f"{stack_name}.{name}.{key}"
                for url_pw in re.findall(r"://[^:/@]+:([^@]+)@", value):
                    assert url_pw.startswith("${"), f"{stack_name}.{name}.{key}"
    example = env_example()
    for key, value in example.items():
        if secretish.search(key):
            assert value == "CHANGE_ME", key


# --- names, ports, health checks ----------------------------------------------------------------------------


def haproxy_backend_target() -> tuple[str, int, int]:
    m = re.search(r"(?m)^\s*server-template\s+\S+\s+(\d+)\s+([a-z0-9_-]+):(\d+)\s", HAPROXY)
    return m.group(2), int(m.group(3)), int(m.group(1))


def test_haproxy_reaches_the_portal_by_its_service_name_and_port(swarm, compose):
    host, port, slots = haproxy_backend_target()
    for stack in (swarm, compose):
        assert host in stack["services"]
        assert env_of(stack["services"][host])["CAOSKOL_PORTAL_BIND"] == f"0.0.0.0:{port}"
    assert swarm["services"][host]["deploy"]["endpoint_mode"] == "dnsrr"
    assert slots >= swarm["services"][host]["deploy"]["replicas"] + 1  # room to scale and to update start-first
    dockerfile = (REPO / "docker" / "portal" / "Dockerfile").read_text(encoding="utf-8")
    assert f"EXPOSE {port}" in dockerfile and f"CAOSKOL_PORTAL_BIND=0.0.0.0:{port}" in dockerfile
    assert f'"0.0.0.0:{port}"' in (REPO / "docker" / "portal" / "gunicorn.conf.py").read_text()


def test_haproxy_listens_where_the_stacks_publish(swarm, compose):
    binds = {int(p) for p in re.findall(r"(?m)^\s*bind :(\d+)\s*$", HAPROXY)}
    assert binds == {80, 8404}
    swarm_targets = {p["target"] for p in swarm["services"]["haproxy"]["ports"]}
    compose_targets = {int(p.rsplit(":", 1)[1]) for p in compose["services"]["haproxy"]["ports"]}
    assert swarm_targets == binds == compose_targets
    monitor = re.search(r"monitor-uri (\S+)", HAPROXY).group(1)
    for stack in (swarm, compose):
        test = " ".join(stack["services"]["haproxy"]["healthcheck"]["test"])
        assert monitor in test and "/127.0.0.1/80" in test


def test_haproxy_sends_each_replica_what_gunicorn_serves_at_once(swarm, compose):
    maxconn = int(re.search(r"(?m)^\s*default-server .*\bmaxconn (\d+)", HAPROXY).group(1))
    for stack in (swarm, compose):
        env = env_of(stack["services"]["portal"])
        assert int(env["GUNICORN_WORKERS"]) * int(env["GUNICORN_THREADS"]) == maxconn


def test_health_checks_and_startup_order(swarm, compose):
    for name, svc in compose["services"].items():
        one_shot = svc.get("restart") == "no"
        assert one_shot or svc.get("healthcheck", {}).get("test"), f"compose: {name} has no health check"
        deps = svc.get("depends_on") or {}
        for dep, cond in (deps.items() if isinstance(deps, dict) else ((d, {}) for d in deps)):
            assert dep in compose["services"], f"{name} depends on unknown {dep}"
            if cond.get("condition") == "service_healthy":
                assert compose["services"][dep].get("healthcheck"), f"{name} waits for {dep}'s health check"
            if cond.get("condition") == "service_completed_successfully":
                assert compose["services"][dep].get("restart") == "no", dep
    for name in ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer", "portal"):
        assert compose["services"][name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
    for name, svc in swarm["services"].items():
        if name != "schema":  # a one-shot job
            assert svc["healthcheck"]["test"], f"swarm: {name} has no health check"


def test_compose_has_the_whole_stack(compose):
    assert {"mysql", "postgres", "redis", "airflow-init", "airflow-apiserver", "airflow-scheduler",
            "airflow-dag-processor", "airflow-triggerer", "spark-master", "spark-worker", "portal",
            "haproxy"} <= set(compose["services"])
    assert compose["services"]["mysql"]["image"].startswith("mysql:8.4")
    assert "8080:8080" in compose["services"]["airflow-apiserver"]["ports"]


def test_the_data_folder_is_the_same_path_everywhere(swarm, compose):
    path = compose["x-airflow-common"]["environment"]["CAOSKOL_DATA_DIR"]
    assert f"caoskol_data:{path}" in compose["x-airflow-common"]["volumes"]
    assert env_of(compose["services"]["spark-worker"])["CAOSKOL_DATA_DIR"] == path
    assert f"caoskol_data:{path}" in compose["services"]["spark-worker"]["volumes"]
    for stack in (swarm, compose):
        assert env_of(stack["services"]["portal"])["CAOSKOL_DATA_DIR"] == path
        assert f"caoskol_data:{path}:ro" in stack["services"]["portal"]["volumes"]
    for image in ("airflow", "spark", "portal"):
        assert f"CAOSKOL_DATA_DIR={path}" in (REPO / "docker" / image / "Dockerfile").read_text()


# --- databases and connections --------------------------------------------------------------------------------


def init_script_accounts() -> dict[str, dict]:
    sql = rehearse.init_script_sql({f"CAOSKOL_{r}_DB_PASSWORD": "x" for r in ("ADMIN", "PIPELINE", "PORTAL")})
    grants: dict[str, dict] = {}
    for stmt in sql:
        m = re.match(r"GRANT (.+) ON `([^`]+)`\.\* TO '([^']+)'", stmt)
        if m:
            grants.setdefault(m.group(3), {})[m.group(2)] = m.group(1)
    return grants


def test_database_names_and_accounts_agree(swarm, compose):
    grants = init_script_accounts()
    assert set(grants) == {"caoskol_admin", "caoskol_pipeline", "caoskol_portal"}
    assert set(grants["caoskol_portal"]) == {schema.COLEGIO_DB, schema.REPORTES_DB}
    for stack in (swarm, compose):
        env = env_of(stack["services"]["portal"])
        for key, db in (("CAOSKOL_COLEGIO_URL", schema.COLEGIO_DB), ("CAOSKOL_REPORTES_URL", schema.REPORTES_DB)):
            assert re.search(rf"://caoskol_portal@mysql:3306/{db}\?charset=utf8mb4$", env[key]), env[key]
    schema_job = env_of(swarm["services"]["schema"])
    assert "caoskol_admin@" in schema_job["CAOSKOL_COLEGIO_URL"] and "init-db" in swarm["services"]["schema"]["command"]
    assert "caoskol_admin" in (REPO / "docker" / "airflow" / "init.sh").read_text()
    mysql_env = env_of(swarm["services"]["mysql"]) | env_of(compose["services"]["mysql"])
    for role in ("ADMIN", "PIPELINE", "PORTAL"):
        assert {f"CAOSKOL_{role}_DB_PASSWORD", f"CAOSKOL_{role}_DB_PASSWORD_FILE"} <= set(mysql_env)


def test_airflow_connections_are_the_dags_and_least_privilege(compose):
    env = compose["x-airflow-common"]["environment"]
    conns = {}
    for conn_id in (caoskol_config.COLEGIO_CONN_ID, caoskol_config.REPORTES_CONN_ID, caoskol_config.SPARK_CONN_ID):
        raw = env[f"AIRFLOW_CONN_{conn_id.upper()}"]
        conns[conn_id] = json.loads(INTERP.sub("x", raw))
    assert conns[caoskol_config.COLEGIO_CONN_ID]["schema"] == schema.COLEGIO_DB
    assert conns[caoskol_config.REPORTES_CONN_ID]["schema"] == schema.REPORTES_DB
    grants = init_script_accounts()
    for conn_id in (caoskol_config.COLEGIO_CONN_ID, caoskol_config.REPORTES_CONN_ID):
        c = conns[conn_id]
        assert c["conn_type"] == "mysql" and c["host"] == "mysql" and c["extra"]["charset"] == "utf8mb4"
        assert c["login"] == "caoskol_pipeline"
    assert grants["caoskol_pipeline"] == {schema.COLEGIO_DB: "SELECT", schema.REPORTES_DB: "SELECT, INSERT, UPDATE, DELETE"}
    assert grants["caoskol_portal"] == {schema.COLEGIO_DB: "SELECT, INSERT, UPDATE, DELETE", schema.REPORTES_DB: "SELECT"}
    spark = conns[caoskol_config.SPARK_CONN_ID]
    assert spark["host"] == "spark://spark-master" and spark["port"] == 7077
    assert "7077" in " ".join(compose["services"]["spark-worker"]["command"])


# --- images and versions ------------------------------------------------------------------------------------------


def test_airflow_and_spark_run_the_same_versions():
    pins = lock_pins()
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    declared = dict(re.match(r"([A-Za-z0-9_.\-]+)==(\S+)", d).groups() for d in pyproject if "==" in d)
    airflow_df = (REPO / "docker" / "airflow" / "Dockerfile").read_text()
    spark_df = (REPO / "docker" / "spark" / "Dockerfile").read_text()
    tag = re.search(r"apache/airflow:(\d+\.\d+\.\d+)-python(\d+\.\d+)", airflow_df)
    assert tag.group(1) == pins["apache-airflow"] == declared["apache-airflow"]
    assert pins["pyspark"] == declared["pyspark"]
    # Both images take pyspark from the lock, and run the same Python minor version.
    assert "-c /tmp/requirements.lock pyspark" in spark_df
    assert "grep '^pyspark==' /tmp/caoskol/requirements.lock" in airflow_df
    assert f"python:{tag.group(2)}-slim" in spark_df and f"python:{tag.group(2)}-slim" in \
        (REPO / "docker" / "portal" / "Dockerfile").read_text()
    assert "openjdk-17-jre-headless" in airflow_df and "openjdk-17-jre-headless" in spark_df
    # A command name, resolved by PATH on each side: Airflow's own environment for the driver
    # (it imports caoskol.schema, hence SQLAlchemy), the Spark image's Python for executors.
    assert "PYSPARK_PYTHON=python3" in airflow_df and "PYSPARK_PYTHON=python3" in spark_df


def test_image_requirement_lists_are_pinned_by_the_lock():
    pins = lock_pins()
    for image in ("airflow", "portal"):
        for name in names_in(REPO / "docker" / image / "requirements.in"):
            assert name in pins, f"docker/{image}/requirements.in: {name} is not in requirements.lock"
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    declared = {re.match(r"[A-Za-z0-9_.\-]+", d).group(0).lower() for d in pyproject}
    portal_only = {"flask-login", "flask-wtf", "flask-limiter", "redis", "gunicorn", "flask"}
    airflow_in = set(names_in(REPO / "docker" / "airflow" / "requirements.in"))
    assert airflow_in == declared - portal_only - {"apache-airflow"}


def _closure(names: list[str]) -> set[str]:
    seen: set[str] = set()
    todo = [n.lower() for n in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for raw in metadata.requires(name) or []:
            req = Requirement(raw)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue  # an extra, or another platform or Python
            todo.append(req.name.lower().replace("_", "-"))
    return seen


def test_portal_image_installs_what_the_portal_imports():
    imported: set[str] = set()
    files = list(PORTAL_SRC.glob("*.py")) + [REPO / "caoskol" / f for f in ("config.py", "db.py", "schema.py", "cli.py", "cleaning.py")]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    dists = metadata.packages_distributions()
    needed = {d.lower().replace("_", "-") for mod in imported for d in dists.get(mod, [])} - {"caoskol"}
    installed = _closure(names_in(REPO / "docker" / "portal" / "requirements.in"))
    assert needed <= installed, f"the portal image lacks {sorted(needed - installed)}"


def test_scripts_run_the_way_the_images_use_them():
    init_sql = INIT_SQL_SCRIPT.stat().st_mode
    assert not init_sql & 0o111, "the MySQL image must source this file (not executable) to reach docker_process_sql"
    for name in ("entrypoint.py", "healthcheck.py"):
        assert (REPO / "docker" / "portal" / name).read_text().startswith("#!/usr/bin/env python3\n")
    portal_df = (REPO / "docker" / "portal" / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["caoskol-entrypoint"]' in portal_df and "USER 10001:10001" in portal_df
    assert re.search(r"HEALTHCHECK .*caoskol-healthcheck", portal_df)
    assert "npm ci" in portal_df and "npm run build" in portal_df  # Chart.js at build time


@pytest.mark.parametrize("image", ["airflow", "spark", "portal"])
def test_each_build_context_holds_what_its_dockerfile_copies_and_nothing_else(image):
    dockerfile = (REPO / "docker" / image / "Dockerfile").read_text(encoding="utf-8")
    ignore = (REPO / "docker" / image / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    allowed = [line[1:].rstrip("/") for line in ignore if line.startswith("!")]
    assert "*" in ignore  # everything else stays out (.venv, node_modules, var/, .env)
    for line in dockerfile.splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            sources = [w for w in line.split()[1:] if not w.startswith("--")][:-1]
            for src in sources:
                assert any(src == a or src.startswith(a + "/") for a in allowed), f"{image}: {src} is not in the context"
                assert (REPO / src).exists(), src
