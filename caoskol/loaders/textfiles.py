"""Opening the school's text files: UTF-8 expected, Windows-1252 tolerated with a warning.

Deciding the encoding up front (one fast pass in C over the bytes) lets the CSV readers
stream the file afterwards without failing half-way through a transaction.
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import TextIO

from caoskol.loaders.report import FileResult

_CHUNK = 1 << 20


def detect_encoding(path: Path, result: FileResult) -> str:
    """``utf-8-sig`` (a BOM, if any, is dropped) or ``cp1252`` with a warning naming the line
    of the first byte that is not UTF-8: an export from an old Windows tool."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                bad_line = line + chunk.count(b"\n", 0, exc.start)
                result.warn(
                    bad_line,
                    "file is not valid UTF-8 here; the whole file is read as Windows-1252",
                )
                return "cp1252"
            line += chunk.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            result.warn(line, "file ends inside a UTF-8 character; read as Windows-1252")
            return "cp1252"
    return "utf-8-sig"


def open_text(path: Path, result: FileResult) -> TextIO:
    """A text stream for csv: newline='' as the csv module requires. Bytes undefined in
    Windows-1252 become U+FFFD, which the name check then reports."""
    return path.open(encoding=detect_encoding(path, result), errors="replace", newline="")


def read_text(path: Path, result: FileResult) -> str:
    return path.read_text(encoding=detect_encoding(path, result), errors="replace")
