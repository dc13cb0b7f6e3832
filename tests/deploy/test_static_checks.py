"""The stack files, Dockerfiles and HAProxy configuration checked by the real tools:
`docker stack config` (the Docker CLI, client-side), the compose-spec JSON schema
(check-jsonschema), hadolint, shellcheck and `haproxy -c`. Each tool is also shown a broken
copy, to prove it is really checking."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from deploy_support import REPO, tool

DOCKERFILES = sorted((REPO / "docker").glob("*/Dockerfile"))
SHELL_SCRIPTS = [REPO / "docker" / "airflow" / "init.sh", REPO / "docker" / "mysql" / "initdb.d" / "10-caoskol-users.sh"]


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=REPO, **kw)


def clean_env() -> dict[str, str]:
    """No CAOSKOL_* from the developer's shell: the files' own defaults are checked."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("CAOSKOL_", "HAPROXY_"))}


# --- docker stack config --------------------------------------------------------------------


def test_docker_stack_config_accepts_the_swarm_file():
    res = run([tool("docker"), "stack", "config", "-c", "docker-swarm.yml"], env=clean_env())
    assert res.returncode == 0, res.stderr
    cfg = yaml.safe_load(res.stdout)
    portal = cfg["services"]["portal"]
    deploy = portal["deploy"]
    assert deploy["replicas"] == 3
    assert deploy["endpoint_mode"] == "dnsrr"
    assert deploy["update_config"]["order"] == "start-first"
    assert deploy["update_config"]["failure_action"] == "rollback"
    assert deploy["restart_policy"]["condition"] == "any"
    assert deploy["resources"]["limits"]["cpus"] and deploy["resources"]["limits"]["memory"]
    assert portal["healthcheck"]["test"]
    assert cfg["services"]["mysql"]["deploy"]["placement"]["constraints"]
    assert cfg["networks"]["backend"]["driver"] == "overlay"
    assert cfg["configs"]["haproxy_cfg"]["file"].endswith("docker/haproxy/haproxy.cfg")
    assert all(s.get("external") for s in cfg["secrets"].values())
    assert portal["image"] == "caoskol/portal:0.1.0"


def test_docker_stack_config_rejects_a_broken_file(tmp_path):
    text = (REPO / "docker-swarm.yml").read_text(encoding="utf-8")
    broken = tmp_path / "docker-swarm.yml"
    broken.write_text(text.replace("      endpoint_mode: dnsrr", "      endpoint_mode: dnsrr\n      replicaz: 3"))
    res = run([tool("docker"), "stack", "config", "-c", str(broken)], env=clean_env())
    assert res.returncode != 0 and "replicaz" in res.stderr


# --- compose-spec schema (check-jsonschema) -------------------------------------------------------


@pytest.mark.parametrize("name", ["docker-compose.airflow.yml", "docker-swarm.yml"])
def test_stack_files_follow_the_compose_specification(name):
    res = run([tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", name])
    assert res.returncode == 0, res.stdout + res.stderr


def test_compose_schema_check_rejects_a_broken_file(tmp_path):
    text = (REPO / "docker-compose.airflow.yml").read_text(encoding="utf-8")
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(text.replace("        condition: service_completed_successfully",
                                   "        condition: service_finished", 1))
    res = run([tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(broken)])
    assert res.returncode != 0, res.stdout


def test_gitlab_ci_follows_gitlabs_schema():
    res = run([tool("check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci", ".gitlab-ci.yml"])
    assert res.returncode == 0, res.stdout + res.stderr


# --- hadolint, shellcheck ----------------------------------------------------------------------------


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_hadolint(dockerfile):
    res = run([tool("hadolint"), "--config", "docker/hadolint.yaml", str(dockerfile.relative_to(REPO))])
    assert res.returncode == 0, res.stdout + res.stderr


def test_hadolint_rejects_a_bad_dockerfile(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /tmp && pip install flask\n")
    res = run([tool("hadolint"), "--config", "docker/hadolint.yaml", str(bad)])
    assert res.returncode != 0 and "DL3007" in res.stdout


def test_there_is_a_dockerfile_per_image():
    assert {p.parent.name for p in DOCKERFILES} == {"airflow", "spark", "portal"}


@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=lambda p: p.name)
def test_shellcheck(script):
    res = run([tool("shellcheck"), "--shell=bash", "--severity=style", str(script.relative_to(REPO))])
    assert res.returncode == 0, res.stdout + res.stderr


# --- haproxy -c ----------------------------------------------------------------------------------------


def test_haproxy_accepts_the_configuration():
    res = run([tool("haproxy"), "-c", "-f", "docker/haproxy/haproxy.cfg"],
              env={**clean_env(), "HAPROXY_STATS_PASSWORD": "a-secret-from-the-stack"})
    assert res.returncode == 0, res.stdout + res.stderr


def test_haproxy_refuses_to_start_without_the_stats_password():
    res = run([tool("haproxy"), "-c", "-f", "docker/haproxy/haproxy.cfg"], env=clean_env())
    assert res.returncode != 0
    assert "HAPROXY_STATS_PASSWORD" in res.stdout + res.stderr


def test_haproxy_configuration_needs_nothing_the_official_image_lacks():
    cfg = (REPO / "docker" / "haproxy" / "haproxy.cfg").read_text(encoding="utf-8")
    active = "\n".join(line.split("#", 1)[0] for line in cfg.splitlines())
    for word in ("chroot", "stats socket", "errorfile", "crt ", "ca-file", "pidfile", "/etc/haproxy", "/var/lib/haproxy",
                 "/run/haproxy", "admin:admin", "user haproxy", "group haproxy", "daemon"):
        assert word not in active, word
    assert "log stdout" in active
