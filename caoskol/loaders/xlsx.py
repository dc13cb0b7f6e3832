"""The survey export ``US_Dataset.xlsx``: a spreadsheet whose rows are CSV lines.

Its only column holds, in each cell, a whole comma-joined record (the header too), with the
study program as a word (``Academico``) and accented names as mojibake (``MuÃ±oz``). Each
cell is split with the csv module (so a quoted name with a comma survives) and the rows go
through the same checks as every other format: program words and mojibake are handled
there. A properly columnar sheet (one field per cell) is read as well. The line number
reported is the spreadsheet's row number.
"""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path
from typing import Iterator

from openpyxl import load_workbook

from caoskol import schema
from caoskol.loaders.csv_files import header_columns, rows_after_header
from caoskol.loaders.records import NOTAS_REQUIRED, RawRow
from caoskol.loaders.report import FileResult


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def read_xlsx(path: Path, result: FileResult) -> Iterator[RawRow]:
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        result.fail(None, f"not a readable XLSX workbook: {exc}")
        return
    try:
        sheets = workbook.worksheets
        if not sheets:
            result.fail(None, "workbook has no sheet")
            return
        if len(sheets) > 1:
            result.warn(None, f"only the first sheet ({sheets[0].title!r}) is read; {len(sheets) - 1} other(s) ignored")
        state = {"row": 0}
        rows = sheets[0].iter_rows(values_only=True)

        def records() -> Iterator[list[str]]:
            # Continues the iterator the header search left off, so count from the header.
            for number, cells in enumerate(rows, start=state["row"] + 1):
                state["row"] = number
                texts = [_cell_text(c) for c in cells]
                while texts and not texts[-1].strip():
                    texts.pop()
                if not joined and texts:
                    # In a columnar sheet empty trailing cells are NULLs, not missing fields
                    # (read-only openpyxl may also return short rows).
                    texts += [""] * (len(header) - len(texts))
                if joined:
                    texts = [t for t in texts if t.strip()]
                    if len(texts) > 1:
                        result.error(number, "record spills over several cells in a one-column sheet")
                        continue
                    yield next(csv.reader([texts[0]])) if texts else []
                else:
                    yield texts

        header: list[str] | None = None
        joined = False
        for number, cells in enumerate(rows, start=1):
            texts = [_cell_text(c) for c in cells if c is not None and str(c).strip()]
            if texts:
                state["row"] = number
                # One non-empty cell holding commas: the whole record is in that cell.
                joined = len(texts) == 1 and "," in texts[0]
                header = next(csv.reader([texts[0]])) if joined else [_cell_text(c) for c in cells]
                while header and not header[-1].strip():
                    header.pop()
                break
        if header is None:
            result.fail(None, "sheet is empty: no header")
            return
        what = "notas (" + ", ".join(schema.NOTAS_COLUMNS) + ")"
        yield from rows_after_header(
            header_columns(header), records(), lambda: state["row"], result, NOTAS_REQUIRED, NOTAS_REQUIRED, what
        )
    finally:
        workbook.close()
