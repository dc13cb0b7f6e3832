"""Database engines and schema creation for the two MySQL schemas.

URLs come from the environment (``CAOSKOL_COLEGIO_URL``, ``CAOSKOL_REPORTES_URL``); the
defaults point at a local MariaDB/MySQL as on a development machine. Inside Airflow tasks
the same databases are reached through the MySQL provider's connections instead (see
``caoskol.airflow_conn``); these URLs serve the loader, the portal and the tests.
"""

from __future__ import annotations

import json
import os

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from caoskol import schema

_DEFAULT_SERVER = "mysql+mysqldb://root@127.0.0.1:3306"


def colegio_url() -> str:
    return os.environ.get("CAOSKOL_COLEGIO_URL", f"{_DEFAULT_SERVER}/{schema.COLEGIO_DB}?charset=utf8mb4")


def reportes_url() -> str:
    return os.environ.get("CAOSKOL_REPORTES_URL", f"{_DEFAULT_SERVER}/{schema.REPORTES_DB}?charset=utf8mb4")


def json_text(value) -> str:
    """JSON columns as people read them: `Muñoz`, not `Mu\\u00f1oz` (SQLAlchemy's default
    json.dumps escapes every non-ASCII character; the column is utf8mb4 anyway)."""
    return json.dumps(value, ensure_ascii=False)


# What every engine on the reporting schema is made with (ours and Airflow's hook's).
ENGINE_KWARGS = {"pool_pre_ping": True, "json_serializer": json_text}


def engine(url: str) -> Engine:
    url_obj = make_url(url)
    if url_obj.get_backend_name() == "mysql" and "charset" not in url_obj.query:
        # Without utf8mb4 the driver talks latin1 or 3-byte utf8 and names like Muñoz break.
        url_obj = url_obj.update_query_dict({"charset": "utf8mb4"})
    return create_engine(url_obj, future=True, **ENGINE_KWARGS)


def ensure_database(url: str) -> None:
    """Create the database named in ``url`` (utf8mb4) if the server lacks it."""
    url_obj = make_url(url)
    name = url_obj.database
    if not name:
        raise ValueError(f"the URL {url_obj.render_as_string(hide_password=True)} names no database")
    server = engine(url_obj.set(database=""))
    with server.begin() as conn:
        conn.execute(
            text(
                f"CREATE DATABASE IF NOT EXISTS `{name}` "
                "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
        )
    server.dispose()


def create_colegio_schema(url: str | None = None) -> Engine:
    url = url or colegio_url()
    ensure_database(url)
    eng = engine(url)
    schema.colegio_metadata.create_all(eng)
    return eng


def create_reportes_schema(url: str | None = None) -> Engine:
    url = url or reportes_url()
    ensure_database(url)
    eng = engine(url)
    schema.reportes_metadata.create_all(eng)
    return eng
