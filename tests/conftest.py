"""Fixtures shared by every test: real MySQL databases, the school's seed files.

Each test session gets its own pair of databases (``colegio`` and ``caoskol_reportes``
with a unique suffix) on the MySQL-compatible server named by ``CAOSKOL_TEST_SERVER``
(default: the local MariaDB, root without password), dropped at the end.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from caoskol import db

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_SERVER = os.environ.get("CAOSKOL_TEST_SERVER", "mysql+mysqldb://root@127.0.0.1:3306")


def seed_data_dir() -> Path:
    """The school's files live in ../shared/seed-data beside the checkout (never copied in)."""
    candidates = [
        Path(os.environ["CAOSKOL_SEED_DIR"]) if os.environ.get("CAOSKOL_SEED_DIR") else None,
        REPO_ROOT.parent / "shared" / "seed-data",
    ]
    for cand in candidates:
        if cand and (cand / "US_Dataset.csv").exists():
            return cand
    raise RuntimeError(
        "The school's seed data was not found: expected ../shared/seed-data beside the "
        "checkout (or CAOSKOL_SEED_DIR). CI lays it there; tests need it as real input."
    )


@pytest.fixture(scope="session")
def seed_dir() -> Path:
    return seed_data_dir()


class FreshDatabases:
    """A unique pair of databases; ``new()`` makes more when a test needs its own."""

    def __init__(self) -> None:
        self.created: list[str] = []

    def new(self, label: str = "t") -> tuple[str, str]:
        suffix = f"{label}_{uuid.uuid4().hex[:8]}"
        colegio = f"{TEST_SERVER}/caoskol_colegio_{suffix}?charset=utf8mb4"
        reportes = f"{TEST_SERVER}/caoskol_rep_{suffix}?charset=utf8mb4"
        db.create_colegio_schema(colegio)
        db.create_reportes_schema(reportes)
        self.created += [f"caoskol_colegio_{suffix}", f"caoskol_rep_{suffix}"]
        return colegio, reportes

    def drop_all(self) -> None:
        server = db.engine(TEST_SERVER + "/")
        with server.begin() as conn:
            for name in self.created:
                conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        server.dispose()


@pytest.fixture(scope="session")
def fresh_databases():
    fd = FreshDatabases()
    yield fd
    fd.drop_all()


@pytest.fixture()
def mysql_urls(fresh_databases, monkeypatch) -> tuple[str, str]:
    """A fresh (colegio, reportes) pair for one test, exported as the CAOSKOL_* URLs."""
    colegio, reportes = fresh_databases.new()
    monkeypatch.setenv("CAOSKOL_COLEGIO_URL", colegio)
    monkeypatch.setenv("CAOSKOL_REPORTES_URL", reportes)
    return colegio, reportes


# --- Airflow ---------------------------------------------------------------------------
# Airflow reads its configuration when first imported, so the test environment is set here,
# at collection time, before any test module can import it: a throw-away AIRFLOW_HOME with
# its own SQLite metadata DB, the project's airflow.cfg and dags/.
_AIRFLOW_HOME = Path(os.environ.get("CAOSKOL_TEST_AIRFLOW_HOME", f"/tmp/caoskol-test-airflow-{os.getpid()}"))
os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ["AIRFLOW_CONFIG"] = str(REPO_ROOT / "airflow.cfg")
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO_ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(REPO_ROOT / "plugins")
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_AIRFLOW_HOME}/airflow.db"
os.environ["AIRFLOW__LOGGING__BASE_LOG_FOLDER"] = str(_AIRFLOW_HOME / "logs")
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("AIRFLOW_CONN_SPARK_DEFAULT", '{"conn_type": "spark", "host": "local[2]"}')
# spark-submit and the project's console scripts live beside this interpreter.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
_AIRFLOW_HOME.mkdir(parents=True, exist_ok=True)


@pytest.fixture(scope="session")
def airflow_db():
    """Airflow's metadata database, migrated once per test session."""
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)
    return _AIRFLOW_HOME


def airflow_conn_uri(sqlalchemy_url: str) -> str:
    """The Airflow connection URI (mysql://...) for one of our SQLAlchemy URLs."""
    from sqlalchemy.engine import make_url

    url = make_url(sqlalchemy_url)
    return url.set(drivername="mysql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def airflow_conn():
    return airflow_conn_uri
