"""Which kind of file this is, from its content rather than its name.

The school's SQL dump is named ``.csv``, so the extension cannot be trusted: an XLSX is a
zip, an SQL file starts with a statement or a comment, and a CSV's header says whether it
holds accounts (``clave``, ``rol``) or results.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from caoskol.loaders.csv_files import header_columns

KINDS = ("sql-dump", "users", "xlsx", "csv")
TABLE_OF_KIND = {"sql-dump": "notas", "users": "usuarios", "xlsx": "notas", "csv": "notas"}

_SQL_START = re.compile(
    r"\s*(?:/\*|--\s|#|(?:INSERT|REPLACE|DROP|CREATE|SET|LOCK|USE|START|BEGIN)\b)", re.I
)


def detect_kind(path: Path) -> str | None:
    """One of :data:`KINDS`, or None when the content matches none of them."""
    with path.open("rb") as fh:
        head = fh.read(64 * 1024)
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    if _SQL_START.match(text) or path.suffix.lower() == ".sql":
        return "sql-dump"
    first_line = next((ln for ln in text.splitlines() if ln.strip()), "")
    if not first_line:
        return None
    columns = set(header_columns(next(csv.reader(io.StringIO(first_line)), [])))
    if {"clave", "rol"} & columns:
        return "users"
    if {"id", "nombre"} <= columns:
        return "csv"
    return None
