"""Real CSV files: the plain notas CSV (what ``caoskol generate`` writes) and the users CSV.

Both are streamed with the csv module, so a 10-million-row file never sits in memory. The
header names the columns (old names are mapped, see ``values.COLUMN_ALIASES``); a file that
lacks a needed column is not taken at all, because every row would be missing it, while
extra columns are ignored with one warning. Empty fields and the literal ``NULL`` (how the
users file marks a teacher's grade) both mean NULL.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterable, Iterator

from caoskol import schema
from caoskol.loaders.records import NOTAS_REQUIRED, RawRow
from caoskol.loaders.report import FileResult
from caoskol.loaders.textfiles import open_text
from caoskol.loaders.values import canonical_column

# The users file's columns. ``grado`` is read but not stored: usuarios has no grade (a
# student's grade lives in notas), and teachers carry the string NULL there.
USERS_REQUIRED = frozenset({"id", "nombre", "clave", "rol"})
USERS_KNOWN = USERS_REQUIRED | {"grado"}


def header_columns(header: Iterable[str]) -> list[str]:
    return [canonical_column(h) for h in header]


def csv_rows(
    path: Path,
    result: FileResult,
    required: frozenset[str],
    known: frozenset[str],
    what: str,
) -> Iterator[RawRow]:
    with open_text(path, result) as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        while header is not None and not any(h.strip() for h in header):
            header = next(reader, None)
        if header is None:
            result.fail(None, "file is empty: no header")
            return
        yield from rows_after_header(
            header_columns(header), reader, lambda: reader.line_num, result, required, known, what
        )


def rows_after_header(
    columns: list[str],
    records: Iterable[list],
    line_of,
    result: FileResult,
    required: frozenset[str],
    known: frozenset[str],
    what: str,
) -> Iterator[RawRow]:
    """Shared by the CSV and XLSX readers: header checks, then one RawRow per record.

    ``line_of()`` gives the current record's line (CSV) or row number (XLSX).
    """
    header_line = line_of()
    missing = [c for c in sorted(required) if c not in columns]
    if missing:
        result.fail(
            header_line,
            f"header lacks column(s) {', '.join(missing)} needed for {what}; header is "
            f"{', '.join(columns)}. File not taken",
        )
        return
    repeated = sorted({c for c in columns if c and columns.count(c) > 1})
    if repeated:
        result.fail(header_line, f"header names column(s) {', '.join(repeated)} twice. File not taken")
        return
    extra = [c for c in columns if c not in known]
    if extra:
        result.warn(header_line, f"column(s) {', '.join(c or '(empty)' for c in extra)} ignored: not part of {what}")
    width = len(columns)
    for fields in records:
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue  # blank line
        line = line_of()
        if len(fields) != width:
            result.error(line, f"bad arity: {len(fields)} fields, the header has {width}")
            continue
        yield RawRow(line, dict(zip(columns, fields)))


def read_notas_csv(path: Path, result: FileResult) -> Iterator[RawRow]:
    yield from csv_rows(path, result, NOTAS_REQUIRED, NOTAS_REQUIRED, "notas (" + ", ".join(schema.NOTAS_COLUMNS) + ")")


def read_users_csv(path: Path, result: FileResult) -> Iterator[RawRow]:
    yield from csv_rows(path, result, USERS_REQUIRED, USERS_KNOWN, "the users file (id, nombre, grado, clave, rol)")
