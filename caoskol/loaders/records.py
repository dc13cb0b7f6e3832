"""From a source row (whatever the format) to a ``notas`` row, or a reason it is refused.

Every reader yields :class:`RawRow` - the line it came from and its fields under our column
names - so the checks below are written once for the SQL dump, the CSV and the XLSX.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

from caoskol import schema
from caoskol.loaders.report import FileResult
from caoskol.loaders.values import (
    INT,
    REPLACEMENT_CHAR,
    BadValue,
    clean_name,
    parse_int,
    parse_program,
)


@dataclass(slots=True)
class RawRow:
    line: int
    values: dict[str, object]  # canonical column name -> str | int | Decimal | None


# A record ready for the database, and the line it came from (for warnings at write time).
Record = tuple[int, dict[str, object]]

NOTAS_REQUIRED = frozenset(schema.NOTAS_COLUMNS)
_INT_FIELDS = ("grado", "premios", "matematicas", "ingles", "ciencias")


def check_name(row_id: int, line: int, value: object, result: FileResult) -> str:
    """Repair mojibake; warn (but keep) a name whose letter was lost as U+FFFD."""
    name, repaired = clean_name(value)
    if repaired:
        result.repaired_names += 1
    if REPLACEMENT_CHAR in name:
        result.warn(
            line,
            f"name {name!r} of id {row_id} contains U+FFFD: a letter was lost before this file "
            "was written and cannot be restored; loaded as is, correct it at the source",
            row_id,
        )
    return name


def take(record: dict[str, object], problems: list[str], column: str, parse: Callable[..., object], *args: object) -> None:
    """``record[column] = parse(*args)``, or the reason it cannot be stored added to
    ``problems`` (so a row's every problem is reported together, not only the first)."""
    try:
        record[column] = parse(*args)
    except BadValue as exc:
        problems.append(f"{column}: {exc}")


def notas_record(row_id: int, raw: RawRow, result: FileResult) -> dict[str, object] | None:
    """All of a row's problems in one error (so one pass over the file shows them all)."""
    values = raw.values
    record: dict[str, object] = {"id": row_id}
    problems: list[str] = []
    take(record, problems, "nombre", check_name, row_id, raw.line, values.get("nombre"), result)
    for column in _INT_FIELDS:
        take(record, problems, column, parse_int, values.get(column))
    take(record, problems, "programa", parse_program, values.get("programa"))
    if problems:
        result.error(raw.line, "; ".join(problems), row_id)
        return None
    return record


RecordBuilder = Callable[[int, RawRow, FileResult], "dict[str, object] | None"]


def unique_records(rows: Iterator[RawRow], build: RecordBuilder, result: FileResult) -> Iterator[Record]:
    """Valid records, first occurrence of each id only.

    Ids identify students (names repeat), so two rows with one id in one file are two
    conflicting claims. The first is kept and every later one refused with a pointer to the
    first: this decision needs no look-ahead, so a file streams through in batches. The id
    is marked as seen even when its first row is refused for another reason, so a later
    row never silently replaces a broken one. A row whose id is already in the database is
    not a duplicate: re-importing upserts by id.
    """
    seen: dict[int, int] = {}
    for raw in rows:
        try:
            row_id = parse_int(raw.values.get("id"), INT)
        except BadValue as exc:
            result.error(raw.line, f"id: {exc}")
            continue
        if row_id is None:
            result.error(raw.line, "id: missing (NULL or empty); a row without id cannot be stored")
            continue
        first = seen.get(row_id)
        if first is not None:
            result.error(raw.line, f"duplicate id {row_id} in this file (first at line {first}, which is kept)", row_id)
            continue
        seen[row_id] = raw.line
        record = build(row_id, raw, result)
        if record is not None:
            yield raw.line, record
