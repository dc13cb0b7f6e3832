"""Bulk-load a generated school into a fresh ``colegio``-shaped database, for benchmarks.

``caoskol load`` checks every row in Python and upserts in batches (~30 s per million
rows): right for a school's files, too slow to set up 10 million rows before each
benchmark. Here the server reads the generated CSV itself (``LOAD DATA LOCAL INFILE``),
with the loader's outcome for generated files:

* the first row of an id wins, later rows with the same id are skipped (``IGNORE`` on the
  primary key) - the loader keeps the first occurrence and refuses the others;
* an empty field is NULL (the generator writes NULL as an empty field);
* accounts: ``rol`` lower-cased as the loader maps it, one password hash for every
  account (the hash is not what is measured; the loader hashes each one), and
  ``debe_cambiar_clave`` set as for imported accounts.

What differs from ``caoskol load``: mojibake names are stored as written (the loader
repairs them with ftfy). Names never enter a statistic, so the published report is the
same. Loading is timed on its own and is not part of the pipeline.
"""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy.engine import make_url

from caoskol import db

NOTAS_SQL = (
    "LOAD DATA LOCAL INFILE %s IGNORE INTO TABLE notas CHARACTER SET utf8mb4 "
    "FIELDS TERMINATED BY ',' LINES TERMINATED BY '\\n' IGNORE 1 LINES "
    "(id, nombre, @grado, @premios, @programa, @matematicas, @ingles, @ciencias) SET "
    "grado = NULLIF(@grado, ''), premios = NULLIF(@premios, ''), programa = NULLIF(@programa, ''), "
    "matematicas = NULLIF(@matematicas, ''), ingles = NULLIF(@ingles, ''), ciencias = NULLIF(@ciencias, '')"
)
USUARIOS_SQL = (
    "LOAD DATA LOCAL INFILE %s IGNORE INTO TABLE usuarios CHARACTER SET utf8mb4 "
    "FIELDS TERMINATED BY ',' LINES TERMINATED BY '\\n' IGNORE 1 LINES "
    "(id, nombre, @grado, @clave, @rol) SET rol = LOWER(@rol), clave_hash = %s, debe_cambiar_clave = 1"
)


def connect(url: str):
    """A MySQLdb connection allowed to send a local file (``local_infile``)."""
    import MySQLdb

    u = make_url(url)
    return MySQLdb.connect(
        host=u.host or "127.0.0.1",
        port=u.port or 3306,
        user=u.username or "root",
        passwd=u.password or "",
        db=u.database,
        charset="utf8mb4",
        local_infile=1,
    )


def bulk_load(colegio_url: str, notas_csv: Path, usuarios_csv: Path | None = None) -> dict:
    """Create the schema at ``colegio_url`` and load the files; return rows and seconds."""
    from werkzeug.security import generate_password_hash

    db.create_colegio_schema(colegio_url).dispose()
    conn = connect(colegio_url)
    out: dict = {}
    try:
        cur = conn.cursor()
        started = time.perf_counter()
        cur.execute(NOTAS_SQL, (str(notas_csv),))
        out["notas_rows"] = cur.rowcount
        if usuarios_csv is not None:
            one_hash = generate_password_hash("bench-no-login", method="pbkdf2:sha256:1000")
            cur.execute(USUARIOS_SQL, (str(usuarios_csv), one_hash))
            out["usuarios_rows"] = cur.rowcount
        conn.commit()
        out["seconds"] = time.perf_counter() - started
        cur.execute("ANALYZE TABLE notas")
        cur.fetchall()
        cur.close()
    finally:
        conn.close()
    return out
