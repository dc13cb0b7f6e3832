"""The one rule for a person's name, wherever the portal accepts one (the admin form, the
API's account creation and results edits). No Flask here, so any module can use it."""

from __future__ import annotations

import unicodedata
from typing import Any

from caoskol import schema

NAME_MAX = schema.usuarios.c.nombre.type.length  # the same VARCHAR as notas.nombre
# Control (Cc: NUL, tab, newline), format (Cf: U+202E right-to-left override, U+200B
# zero-width space), surrogate, private-use and unassigned code points, and the Unicode line
# and paragraph separators: invisible or layout-changing, they make one name pass for
# another, or break the lines of a page, a CSV or a log.
FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def clean_name(value: Any, field: str = "nombre") -> tuple[str, str | None]:
    """(the name as it is stored, None), or (…, the reason it is refused, naming ``field``).

    NFC first (a combining accent and a precomposed one are the same name), then surrounding
    whitespace stripped, then the length and the characters. Letters of any script,
    apostrophes, hyphens and emoji are fine.
    """
    if not isinstance(value, str):
        return "", f"{field}: texto de 1 a {NAME_MAX} caracteres."
    name = unicodedata.normalize("NFC", value).strip()
    if not name or len(name) > NAME_MAX:
        return name, f"{field}: texto de 1 a {NAME_MAX} caracteres."
    bad = next((c for c in name if unicodedata.category(c) in FORBIDDEN_CATEGORIES), None)
    if bad is not None:
        return name, f"{field}: no puede contener caracteres de control ni invisibles (U+{ord(bad):04X})."
    return name, None
