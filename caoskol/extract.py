"""Extract: stream the source table into the run's raw Parquet snapshot.

Memory stays bounded by ``chunk_rows``: rows come through a server-side (unbuffered)
cursor and each chunk is appended to the Parquet file as a row group, so the whole table
is never held by Python, whatever its size.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from caoskol import schema

log = logging.getLogger(__name__)

RAW_COLUMNS = schema.NOTAS_COLUMNS + ("rol",)

# The join brings each student's account role: a teacher's or an administrator's row in
# `notas` (the old init script inserted accounts there) must not count as a student.
EXTRACT_SQL = (
    "SELECT "
    + ", ".join(f"n.`{c}`" for c in schema.NOTAS_COLUMNS)
    + ", u.`rol` FROM `notas` n LEFT JOIN `usuarios` u ON u.`id` = n.`id`"
)

RAW_SCHEMA = pa.schema(
    [
        pa.field("id", pa.int64()),
        pa.field("nombre", pa.string()),
        *(pa.field(c, pa.int64()) for c in ("grado", "premios", "programa") + schema.SUBJECTS),
        pa.field("rol", pa.string()),
    ]
)


def rows_to_table(chunk: list[tuple]) -> pa.Table:
    """One chunk of driver tuples as an Arrow table of ``RAW_SCHEMA``.

    One list comprehension per column rather than ``zip(*chunk)``: transposing with zip
    passes every row as an argument and builds a tuple per column, about twice the time
    (measured in docs/BENCHMARKS.md); this is the Python part of extract's cost.
    """
    return pa.Table.from_arrays(
        [pa.array([row[i] for row in chunk], type=f.type) for i, f in enumerate(RAW_SCHEMA)],
        schema=RAW_SCHEMA,
    )


class ExtractError(RuntimeError):
    """The source could not be read; nothing downstream runs on a partial snapshot."""


def extract_to_snapshot(dbapi_conn, out_dir: Path, chunk_rows: int) -> int:
    """Copy the source rows to ``out_dir/part-00000.parquet``; return the row count.

    ``dbapi_conn`` is a MySQLdb connection (from the MySQL provider's hook or a SQLAlchemy
    engine's ``raw_connection()``). The file is written under a temporary name and renamed
    when complete, so a failed extract never leaves a snapshot that looks whole.
    """
    import MySQLdb.cursors  # the provider's driver; SSCursor streams instead of buffering

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("part-*.parquet"):
        old.unlink()  # a re-run of the same date starts from a clean snapshot
    final = out_dir / "part-00000.parquet"
    tmp = out_dir / ".part-00000.parquet.tmp"
    rows = 0
    cursor = dbapi_conn.cursor(MySQLdb.cursors.SSCursor)
    try:
        cursor.execute(EXTRACT_SQL)
        with pq.ParquetWriter(tmp, RAW_SCHEMA) as writer:
            while True:
                chunk = cursor.fetchmany(chunk_rows)
                if not chunk:
                    break
                table = rows_to_table(chunk)
                writer.write_table(table)
                rows += len(chunk)
            if rows == 0:
                # An empty file with the schema keeps validation's message about emptiness
                # (not a missing file) and downstream readers simple.
                writer.write_table(RAW_SCHEMA.empty_table())
    finally:
        cursor.close()
    tmp.rename(final)
    log.info("extract: %d filas copiadas a %s", rows, final)
    return rows
