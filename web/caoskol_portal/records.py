"""What the portal may write into a student's results record (``colegio.notas``).

The nightly pipeline quarantines every row that breaks its cleaning policy
(``caoskol.cleaning``, ``docs/CLEANING_POLICY.md``); a record the portal writes must never be
one of them. So each write runs the policy itself (:func:`policy_problem`) on the row as it
would be stored, inside the write's transaction (``queries.Store``): the ranges, which fields
may be NULL and the reason texts stay in the policy, one place.

Checked here, before that, only what the policy cannot judge or does not decide:

* the JSON shape of each field (an integer the SMALLINT column can hold; a name as
  ``names.clean_name`` accepts it), with a message naming the field;
* the portal's own stricter rules: the study program is written, never NULL (a student the
  portal creates always has one, see ``docs/PORTAL.md``), and awards above
  :data:`MAX_AWARDS` are taken for a typo.

The study program is write-only: nothing here returns or quotes its value.
"""

from __future__ import annotations

from typing import Any, Mapping

from caoskol import schema

from .names import clean_name

SCORE_FIELDS = schema.SUBJECTS
# The fields of a record the portal writes. ``programa`` is write-only: never read back.
WRITABLE_FIELDS = ("nombre", "grado", "premios", "programa") + SCORE_FIELDS
# notas' integer columns are SMALLINT: a larger number is refused here, before MySQL.
SMALLINT_MIN, SMALLINT_MAX = -(2**15), 2**15 - 1
# Not a policy rule (the policy bounds awards below only): more than this is a typing slip.
MAX_AWARDS = 100
# What a new student's record starts with: the policy quarantines NULL awards, and nobody
# has won one yet. Subject scores start NULL, which the policy keeps (left out of that
# subject's statistics until entered).
NEW_RECORD_DEFAULTS = {"premios": 0}
PROGRAM_CODES = ", ".join(str(code) for code in sorted(schema.PROGRAMS))
PROGRAM_RULE = f"programa: uno de los códigos {PROGRAM_CODES} (no puede quedar vacío)."


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and SMALLINT_MIN <= value <= SMALLINT_MAX


def unknown_field(key: str) -> str:
    return f"campo no permitido: {key}."


def field_problem(key: str, value: Any) -> str | None:
    """Why one field of a write is refused before the policy runs (Spanish, names the field)."""
    if key == "nombre":
        return clean_name(value)[1]
    if key in SCORE_FIELDS:
        if value is not None and not _is_int(value):
            return f"{key}: entero de {schema.SCORE_MIN} a {schema.SCORE_MAX} o null."
    elif key == "grado":
        if value is not None and not _is_int(value):
            return f"grado: entero de {min(schema.GRADES)} a {max(schema.GRADES)} o null."
    elif key == "premios":  # NULL and negative: the policy's rule (policy_problem)
        if value is not None and (not _is_int(value) or value > MAX_AWARDS):
            return f"premios: entero de 0 a {MAX_AWARDS} (obligatorio: 0 si no tiene)."
    elif key == "programa":
        if not _is_int(value) or value not in schema.PROGRAMS:
            return PROGRAM_RULE  # never quotes the value sent
    else:
        return unknown_field(key)
    return None


GRADE_REQUIRED = f"grado: un estudiante necesita un grado entre {min(schema.GRADES)} y {max(schema.GRADES)}."
STAFF_PROGRAM_PROBLEM = "programa: solo un estudiante tiene programa de estudio."
STAFF_GRADE_PROBLEM = "grado: solo un estudiante tiene grado."
# What creating an account may carry (POST /api/v1/usuarios); anything else is refused, as
# in a results edit, rather than silently dropped.
ACCOUNT_FIELDS = ("id", "nombre", "rol", "grado", "programa")


def new_student_problem(grado: Any, programa: Any) -> str | None:
    """Why a student cannot be created with this grade and program, or None. Both are
    required: the policy keeps a NULL program, but one such student in the clean data makes
    the pipeline withhold a whole program group from the by-program aggregates (its
    complement check)."""
    if not _is_int(grado) or grado not in schema.GRADES:
        return GRADE_REQUIRED
    return field_problem("programa", programa)


def check_fields(body: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
    """(values to write, None) or ({}, the first problem). A name as ``clean_name`` stores it."""
    values: dict[str, Any] = {}
    for key, value in body.items():
        problem = field_problem(key, value)
        if problem:
            return {}, problem
        values[key] = clean_name(value)[0] if key == "nombre" else value
    return values, None


def policy_problem(row: Mapping[str, Any]) -> str | None:
    """The cleaning policy's verdict on one record as it would be stored: None if the nightly
    run keeps it, else a Spanish message with the policy's reasons (each names its field; the
    policy never quotes a program).

    ``row`` has the raw snapshot's columns (``caoskol.cleaning.RAW_COLUMNS``: the record's
    columns and the account's ``rol``, None without an account). pandas is imported on the
    first write only: reading pages never needs it.
    """
    import pandas as pd

    from caoskol import cleaning

    raw = pd.DataFrame([{c: row.get(c) for c in cleaning.RAW_COLUMNS}])
    # The id is the table's primary key: the one rule over the whole snapshot cannot apply.
    _clean, quarantine = cleaning.apply_policy(raw, duplicate_ids=())
    if quarantine.empty:
        return None
    motivo = str(quarantine["motivo"].iloc[0])
    return f"El registro quedaría en cuarentena en la limpieza nocturna: {motivo}."
