"""Fixtures of the deployment tests: the stack files parsed, the real tools located, and one
rehearsal of the Swarm topology per test session (scripts/rehearse_swarm.py).

The rehearsal's data: the school's seed files and a published report in a fresh pair of
databases, built by the portal tests' builder (tests/portal/portal_data.py).
``CAOSKOL_DEPLOY_TEST_DATA`` = ``handmade`` (default: the report written through the
project's schema in a second or two) or ``pipeline`` (two real pipeline runs with Spark,
about 4 more minutes on 2 cores) or ``shared`` (whatever the portal tests of this session
use, built once: the pipeline's by default).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "portal"))
import portal_data  # noqa: E402
from deploy_support import REPO, rehearse, tool  # noqa: E402


@pytest.fixture(scope="session")
def swarm() -> dict:
    return yaml.safe_load((REPO / "docker-swarm.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.airflow.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def deploy_data(fresh_databases, seed_dir):
    kind = os.environ.get("CAOSKOL_DEPLOY_TEST_DATA", "handmade")
    old = os.environ.get("CAOSKOL_PASSWORD_HASH_METHOD")
    os.environ["CAOSKOL_PASSWORD_HASH_METHOD"] = portal_data.HASH_METHOD
    try:
        if kind == "shared":
            data = portal_data.shared(fresh_databases, seed_dir)
        else:
            colegio, reportes = fresh_databases.new("deploy")
            builder = portal_data.build_with_pipeline if kind == "pipeline" else portal_data.build_handmade
            data = builder(colegio, reportes, seed_dir)
    finally:
        if old is None:
            os.environ.pop("CAOSKOL_PASSWORD_HASH_METHOD", None)
        else:
            os.environ["CAOSKOL_PASSWORD_HASH_METHOD"] = old
    return data


@pytest.fixture(scope="session")
def rehearsal(deploy_data, tmp_path_factory):
    """HAProxy + 3 portal replicas on loopback, started once; figures written at the end to
    test-artifacts/deploy/rehearsal.json (docs/DEPLOYMENT.md quotes them)."""
    for name in ("haproxy", "wrk"):
        tool(name)
    login = rehearse.Login(portal_data.TEACHER_ID, portal_data.TEST_PASSWORD, "/profesor/")
    reh = rehearse.Rehearsal(deploy_data.colegio_url, deploy_data.reportes_url, login,
                             workdir=tmp_path_factory.mktemp("rehearsal"))
    with reh:
        yield reh
        report = reh.report()
        report["data"] = os.environ.get("CAOSKOL_DEPLOY_TEST_DATA", "handmade")
        path = rehearse.write_report(report)
        print(f"\nrehearsal figures: {path}\n{rehearse.summary(report)}")
