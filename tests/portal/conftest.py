"""Fixtures for the portal: one database pair filled once per session (see portal_data.py),
a fresh app per test (its own rate-limit counters), and login helpers that go through the
real login form with its CSRF token."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import portal_data  # noqa: E402
from portal_helpers import ROLES, login_as, make_app  # noqa: E402



@pytest.fixture(scope="session", autouse=True)
def _portal_env():
    """Cheap password hashes during the portal tests only (restored afterwards)."""
    old = os.environ.get("CAOSKOL_PASSWORD_HASH_METHOD")
    os.environ["CAOSKOL_PASSWORD_HASH_METHOD"] = portal_data.HASH_METHOD
    yield
    if old is None:
        os.environ.pop("CAOSKOL_PASSWORD_HASH_METHOD", None)
    else:
        os.environ["CAOSKOL_PASSWORD_HASH_METHOD"] = old


@pytest.fixture(scope="session")
def portal_db(fresh_databases, seed_dir, _portal_env) -> portal_data.PortalData:
    return portal_data.shared(fresh_databases, seed_dir)


@pytest.fixture()
def app(portal_db):
    app = make_app(portal_db.colegio_url, portal_db.reportes_url)
    yield app
    app.extensions["caoskol_store"].dispose()


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture()
def clients(app, portal_db):
    """One logged-in test client per role, plus 'anonimo'."""
    out = {"anonimo": app.test_client()}
    for role in ROLES:
        c = app.test_client()
        login_as(c, portal_db, role)
        out[role] = c
    return out
