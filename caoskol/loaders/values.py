"""Conversion of one field from any source format into what the ``colegio`` tables hold.

The loader refuses only what cannot be represented (a score that is not an integer, a
program word it does not know, a number too big for the column). Values that are merely
implausible - a score of 140, a NULL grade, program 2 - are loaded as they are: the
pipeline measures and quarantines them, and it can only do that if they reach MySQL.
"""

from __future__ import annotations

import math
import re
import unicodedata
from decimal import Decimal
from functools import lru_cache

import ftfy

from caoskol import schema

# The old system's column names (US_Dataset.csv, US_Dataset.xlsx, init.sql) mapped to ours.
# Any source may use either; the INSERT's column list or the header decides which.
COLUMN_ALIASES = {
    "num_premios": "premios",
    "puntaje_mat": "matematicas",
    "puntaje_ing": "ingles",
    "puntaje_ciencias": "ciencias",
}

SMALLINT = (-32768, 32767)  # grado, premios, programa and the scores are SMALLINT
INT = (-(2**31), 2**31 - 1)  # ids are INT
NAME_MAX = 150  # notas.nombre and usuarios.nombre are VARCHAR(150)

REPLACEMENT_CHAR = "\ufffd"


# Plain ASCII decimals only: Decimal() itself would also take '1_000' and non-ASCII digits.
_DECIMAL_TEXT = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?", re.ASCII)


class BadValue(ValueError):
    """A field that cannot be stored; the message says why, for the row's error report."""


def canonical_column(name: str) -> str:
    """``Num_Premios``, `` `puntaje_mat` `` -> ``premios``, ``matematicas``; others lowercased."""
    clean = name.strip().strip("`\"'").strip().lower()
    return COLUMN_ALIASES.get(clean, clean)


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def parse_int(value: object, bounds: tuple[int, int] = SMALLINT) -> int | None:
    """An integer or None (NULL, empty). Integral decimals (``58.0``) are accepted because
    spreadsheets and some dumps write integers that way; ``58.5`` is not an integer."""
    if value is None:
        return None
    if isinstance(value, bool):
        number = int(value)
    elif isinstance(value, int):
        number = value
    elif isinstance(value, (float, Decimal)):
        number = _integral(value, value)
    elif isinstance(value, str):
        text = value.strip()
        if not text or text.upper() == "NULL":
            return None
        # isascii() guards against int() accepting '1_000' or non-ASCII digits.
        if text.isascii() and (text.isdigit() or (text[0] in "+-" and text[1:].isdigit())):
            number = int(text)
        elif _DECIMAL_TEXT.fullmatch(text):
            number = _integral(Decimal(text), value)
        else:
            raise BadValue(f"not an integer: {value!r}")
    else:
        raise BadValue(f"not an integer: {value!r}")
    lo, hi = bounds
    if not lo <= number <= hi:
        raise BadValue(f"{number} does not fit the column (range {lo}..{hi})")
    return number


def _integral(number: float | Decimal, original: object) -> int:
    if isinstance(number, float) and not math.isfinite(number):
        raise BadValue(f"not an integer: {original!r}")
    if isinstance(number, Decimal):
        if not number.is_finite():
            raise BadValue(f"not an integer: {original!r}")
        if number.adjusted() > 30:  # int() of '1e999999999' would build a gigantic number
            raise BadValue(f"{original!r} does not fit the column")
    if number != int(number):
        raise BadValue(f"not an integer: {original!r}")
    return int(number)


_PROGRAM_WORDS = {_strip_accents(word).lower(): code for code, word in schema.PROGRAMS.items()}
_PROGRAM_LIST = ", ".join(schema.PROGRAMS.values())


def parse_program(value: object) -> int | None:
    """A program code (0, 1, 3 - or any other integer, kept for the pipeline to judge) or a
    program word as the survey export writes it (``Academico`` -> 0, accents and case ignored)."""
    if isinstance(value, str):
        text = value.strip()
        if text and not (text.upper() == "NULL" or text.lstrip("+-").replace(".", "", 1).isdigit()):
            code = _PROGRAM_WORDS.get(_strip_accents(text).lower())
            if code is None:
                raise BadValue(f"unknown program word {value!r} (expected {_PROGRAM_LIST} or a code)")
            return code
    return parse_int(value)


@lru_cache(maxsize=65536)
def _repair(text: str) -> str:
    # fix_encoding only undoes mojibake (UTF-8 read as Windows-1252/Latin-1); fix_text would
    # also rewrite legitimate characters such as curly apostrophes in a name.
    return unicodedata.normalize("NFC", ftfy.fix_encoding(text))


def clean_name(value: object) -> tuple[str, bool]:
    """The stored name and whether it was repaired from mojibake (``MuÃ±oz`` -> ``Muñoz``).

    Names are cached because schools repeat them (142 repeats in 400 students) and a
    generated file draws them from small lists, so ftfy runs once per distinct name.
    A name with U+FFFD is returned as is: the letter was lost before the file was written and
    nothing can restore it; the caller reports it as a warning.
    """
    if value is None:
        raise BadValue("no name")
    text = str(value).strip()
    if not text or text.upper() == "NULL":
        raise BadValue("no name")
    fixed = text if text.isascii() else _repair(text)
    if len(fixed) > NAME_MAX:
        raise BadValue(f"name longer than {NAME_MAX} characters")
    return fixed, fixed != text
