"""Loading files into ``colegio``: read, check, write in batches, one transaction per file.

Transactions decide what "refused" means:

* default - each file is one transaction. Rows with errors are refused and reported, the
  rest are committed. A file that cannot be taken at all (unreadable, no header, broken
  SQL comments) is rolled back whole.
* ``strict`` - all files are one transaction, and any error anywhere rolls it all back, so
  a load is all or nothing.

Files are applied in the order given; a row whose id an earlier file (or an earlier load)
already stored is an update, not a duplicate.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Callable, Iterable, Iterator

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from caoskol import db
from caoskol.loaders.csv_files import read_notas_csv, read_users_csv
from caoskol.loaders.detect import KINDS, TABLE_OF_KIND, detect_kind
from caoskol.loaders.records import RawRow, Record, notas_record, unique_records
from caoskol.loaders.report import FileResult, LoadReport
from caoskol.loaders.sql_dump import read_sql
from caoskol.loaders.users import usuarios_record
from caoskol.loaders.writers import BATCH_ROWS, NotasWriter, UsuariosWriter
from caoskol.loaders.xlsx import read_xlsx

Reader = Callable[[Path, FileResult], Iterator[RawRow]]

READERS: dict[str, Reader] = {
    "sql-dump": read_sql,
    "users": read_users_csv,
    "xlsx": read_xlsx,
    "csv": read_notas_csv,
}


def read_records(path: Path | str, kind: str = "auto", result: FileResult | None = None) -> tuple[FileResult, Iterator[Record]]:
    """The checked records of one file, without a database: for tests and dry runs.

    Returns the result (filled as the iterator is consumed) and the iterator.
    """
    path = Path(path)
    result = result or FileResult(str(path))
    if not path.is_file():
        result.fail(None, "no such file")
        return result, iter(())
    if kind == "auto":
        try:
            kind = detect_kind(path)
        except OSError as exc:
            result.fail(None, f"cannot read: {exc}")
            return result, iter(())
        if kind is None:
            result.fail(None, f"cannot tell what this file holds; name its kind with --kind ({', '.join(KINDS)})")
            return result, iter(())
    if kind not in READERS:
        raise ValueError(f"unknown kind {kind!r}; expected auto or one of {', '.join(KINDS)}")
    result.kind, result.table = kind, TABLE_OF_KIND[kind]
    build = usuarios_record if kind == "users" else notas_record
    return result, unique_records(_guarded(READERS[kind](path, result), result), build, result)


def _guarded(rows: Iterator[RawRow], result: FileResult) -> Iterator[RawRow]:
    """A file that breaks the reader part-way (NUL bytes, a 200 kB field, unreadable disk)
    becomes a report line, not a traceback that hides the other files' reports."""
    try:
        yield from rows
    except (OSError, csv.Error) as exc:
        result.fail(None, f"reading stopped: {exc}; file not taken")


def _load_one(conn: Connection, path: Path | str, kind: str, batch_rows: int) -> FileResult:
    result, records = read_records(path, kind)
    writer_cls = UsuariosWriter if result.table == "usuarios" else NotasWriter
    writer = writer_cls(conn, result)
    batch: list[Record] = []
    for item in records:
        if result.fatal:
            # Keep reading to report every problem, but write nothing more: the file's
            # transaction will be rolled back. Valid rows count as rolled back.
            result.rolled_back += 1 + len(batch)
            batch = []
            continue
        batch.append(item)
        if len(batch) >= batch_rows:
            writer.write(batch)
            batch = []
    if result.fatal:
        result.rolled_back += len(batch)
    else:
        writer.write(batch)
    return result


def load_files(
    paths: Iterable[Path | str],
    *,
    strict: bool = False,
    kind: str = "auto",
    url: str | None = None,
    engine: Engine | None = None,
    batch_rows: int = BATCH_ROWS,
) -> LoadReport:
    """Load ``paths`` into the ``colegio`` database at ``url`` (default: db.colegio_url())."""
    own_engine = engine is None
    eng = engine or db.engine(url or db.colegio_url())
    report = LoadReport(strict=strict)
    try:
        with eng.connect() as conn:
            if strict:
                _load_strict(conn, paths, kind, batch_rows, report)
            else:
                for path in paths:
                    trans = conn.begin()
                    try:
                        result = _load_one(conn, path, kind, batch_rows)
                    except SQLAlchemyError as exc:
                        trans.rollback()
                        result = FileResult(str(path))
                        result.fail(None, f"database error, file rolled back: {_db_message(exc)}")
                        report.results.append(result)
                        continue
                    if result.fatal:
                        trans.rollback()
                        result.roll_back()
                    else:
                        trans.commit()
                    report.results.append(result)
    finally:
        if own_engine:
            eng.dispose()
    return report


def _load_strict(conn: Connection, paths, kind: str, batch_rows: int, report: LoadReport) -> None:
    trans = conn.begin()
    try:
        for path in paths:
            try:
                report.results.append(_load_one(conn, path, kind, batch_rows))
            except SQLAlchemyError as exc:
                result = FileResult(str(path))
                result.fail(None, f"database error: {_db_message(exc)}")
                report.results.append(result)
                break
    except BaseException:
        trans.rollback()
        raise
    if report.has_errors:
        trans.rollback()
        for result in report.results:
            result.roll_back()
    else:
        trans.commit()


def _db_message(exc: SQLAlchemyError) -> str:
    orig = getattr(exc, "orig", None)
    return str(orig if orig is not None else exc).splitlines()[0]
