"""Synthetic students shaped like the school's, with defects injected at chosen rates.

The project may not ship the school's files, so demos, load tests and the pipeline's own
tests use this generator. It is deterministic (same seed and arguments, same bytes), so a
test can regenerate a file instead of storing it, and streaming (blocks of
:data:`BLOCK_ROWS` drawn with numpy and written at once), so 10 million rows need no more
memory than 100 thousand.

Shape, from the 400 real students: ids 1..N; grades 6..12 in the school's proportions
(more in the lower grades); awards 0..3; programs 0/1/3 as 40/30/30 %; scores integers
uniform in 20..100, independent of each other; two-word Spanish names, many with accents
or ñ, repeating as real names do.

Defects (each a per-row probability, see :class:`DefectRates`): NULL grade, NULL science,
one score out of 0..100, an extra row re-using an earlier id, and a name written as mojibake
(UTF-8 read as Windows-1252: ``Muñoz`` -> ``MuÃ±oz``). They are exactly the kinds the
loader and the pipeline must survive, and :class:`GenerationSummary` counts each one so a
test can check the loader's and the cleaning's counts against them.

Outputs, in ``out_dir`` (UTF-8, ``\\n`` line ends, NULL written as an empty field):

* ``notas.csv``: header ``caoskol.schema.NOTAS_COLUMNS``; N students plus the duplicate rows
  (each right after the row that drew it);
* ``usuarios.csv`` (optional): ``id,nombre,grado,clave,rol`` like the school's users file:
  the N students (correct names, true grade), then ``teachers`` teachers (ids N+1..) with no
  grade, then one administrator. It holds plain passwords, so it is created mode 0600; they
  are the given password or random ones (``secrets``, so that file alone is not
  byte-deterministic unless a password is given).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path

import ftfy.bad_codecs  # noqa: F401  registers 'sloppy-windows-1252', used to make mojibake
import numpy as np

from caoskol import schema

NOTAS_FILE = "notas.csv"
USERS_FILE = "usuarios.csv"
USERS_COLUMNS = ("id", "nombre", "grado", "clave", "rol")

# Fixed, not a parameter: the random draws are made per block, so the block size is part
# of what makes the output a function of the seed alone.
BLOCK_ROWS = 100_000

# Common Spanish names, none of them taken from the school's own list (a generated school
# must not be a copy of the real one, ../shared/seed-data).
FIRST_NAMES = (
    "Agustín", "Amparo", "Andrés", "Ángela", "Begoña", "Camila", "Aurora", "Benjamín",
    "Diego", "Emilio", "Catalina", "Gabriel", "Inés", "Clemente", "Íñigo", "Dolores", "Joaquín",
    "Elías", "Florencia", "Gonzalo", "Guadalupe", "Héctor", "Irene", "Joaquina", "Martín", "Mateo",
    "Matías", "Nicolás", "Leonor", "Lorena", "Ramón", "Maximiliano", "Mónica", "Noemí",
    "Octavio", "Simón", "Rocío", "Tomás", "Rubén", "Verónica",
)
SURNAMES = (
    "Acuña", "Álvarez", "Bermúdez", "Cárdenas", "Castaño", "Albarracín", "Córdoba", "Arévalo",
    "Díaz", "Benítez", "Bustamante", "Cañas", "Carmona", "Ibáñez", "Jiménez", "Londoño",
    "Durán", "Montaño", "Martínez", "Mejía", "Moreno", "Quiñones", "Núñez", "Ortiz",
    "Ospina", "Patiño", "Peña", "Pérez", "Echeverri", "Espinosa", "Ramírez", "Fajardo",
    "Galeano", "Henao", "Salazar", "Saldaña", "Suárez", "Lozada", "Marulanda", "Zúñiga",
)

# Proportions of the 400 real students (counts per grade, awards and program).
_GRADE_COUNTS = {6: 86, 7: 76, 8: 52, 9: 48, 10: 61, 11: 47, 12: 30}
_AWARD_COUNTS = {0: 83, 1: 107, 2: 108, 3: 102}
_PROGRAM_SHARE = {0: 0.4, 1: 0.3, 3: 0.3}
SCORE_LOW, SCORE_HIGH = 20, 100  # the real scores span 20..100
OUT_OF_RANGE = ((-20, -1), (101, 150))  # where an out-of-range score falls

_GRADES = np.array(list(_GRADE_COUNTS), dtype=np.int64)
_GRADE_P = np.array(list(_GRADE_COUNTS.values()), dtype=float) / sum(_GRADE_COUNTS.values())
_AWARDS = np.array(list(_AWARD_COUNTS), dtype=np.int64)
_AWARD_P = np.array(list(_AWARD_COUNTS.values()), dtype=float) / sum(_AWARD_COUNTS.values())
_PROGRAMS = np.array(list(_PROGRAM_SHARE), dtype=np.int64)
_PROGRAM_P = np.array(list(_PROGRAM_SHARE.values()))


def mojibake(text: str) -> str:
    """What a UTF-8 name looks like after a tool read it as Windows-1252 (as in the XLSX).
    The 'sloppy' codec maps the five bytes cp1252 leaves undefined to C1 controls, as such
    tools do, so every name has a mojibake form that ftfy can undo."""
    return text.encode("utf-8").decode("sloppy-windows-1252")


_FULL_NAMES = np.array([f"{f} {s}" for f in FIRST_NAMES for s in SURNAMES], dtype=object)
_MOJI_NAMES = np.array([mojibake(n) for n in _FULL_NAMES], dtype=object)
# Surnames that are not plain ASCII: a mojibake defect needs one to be visible.
_ACCENTED_SURNAMES = np.array([i for i, s in enumerate(SURNAMES) if not s.isascii()], dtype=np.int64)

# Every integer that can appear (scores incl. out of range, grades, awards, programs) as
# text, plus '' for NULL at the end: formatting a block is then a numpy take, not str().
_INT_LOW, _INT_HIGH = OUT_OF_RANGE[0][0], OUT_OF_RANGE[1][1]
_INT_TEXT = np.array([str(v) for v in range(_INT_LOW, _INT_HIGH + 1)] + [""], dtype=object)
_NULL = len(_INT_TEXT) - 1


@dataclass(frozen=True)
class DefectRates:
    """Per-row probabilities. Defaults are small but non-zero so a demo shows each defect
    reaching the loader's and the pipeline's reports without swamping the statistics."""

    null_grade: float = 0.01
    null_science: float = 0.02
    out_of_range: float = 0.005
    duplicate_id: float = 0.002
    mojibake: float = 0.01

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"rate {name} must be within 0..1, got {value}")


@dataclass
class GenerationSummary:
    students: int
    seed: int
    rows: int = 0  # data rows in notas.csv: students + duplicate rows
    null_grade: int = 0
    null_science: int = 0
    out_of_range: int = 0
    duplicate_id: int = 0
    mojibake: int = 0
    teachers: int = 0
    administrators: int = 0
    files: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def _text(values: np.ndarray, null: np.ndarray | None = None) -> list[str]:
    index = values - _INT_LOW
    if null is not None:
        index = np.where(null, _NULL, index)
    return _INT_TEXT[index].tolist()


def _draw_students(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    return {
        "name": rng.integers(0, len(FIRST_NAMES), n) * len(SURNAMES) + rng.integers(0, len(SURNAMES), n),
        "grado": _GRADES[rng.choice(len(_GRADES), n, p=_GRADE_P)],
        "premios": _AWARDS[rng.choice(len(_AWARDS), n, p=_AWARD_P)],
        "programa": _PROGRAMS[rng.choice(len(_PROGRAMS), n, p=_PROGRAM_P)],
        "scores": rng.integers(SCORE_LOW, SCORE_HIGH + 1, (n, 3)),
    }


def _lines(ids, names, grado, premios, programa, scores, null_grade=None, null_science=None) -> list[str]:
    columns = (
        map(str, ids.tolist()),
        names,
        _text(grado, null_grade),
        _text(premios),
        _text(programa),
        _text(scores[:, 0]),
        _text(scores[:, 1]),
        _text(scores[:, 2], null_science),
    )
    return [",".join(fields) + "\n" for fields in zip(*columns)]


def _block(rng: np.random.Generator, start: int, n: int, rates: DefectRates, summary: GenerationSummary):
    """Notas lines and users' (id, correct name, grade) for students start..start+n-1.

    Every draw is made whatever the rates, so changing one rate changes only the rows that
    defect touches, and the same seed always gives the same students underneath."""
    ids = np.arange(start, start + n, dtype=np.int64)
    s = _draw_students(rng, n)
    u = rng.random((n, 5))
    null_grade = u[:, 0] < rates.null_grade
    null_science = u[:, 1] < rates.null_science
    out_of_range = u[:, 2] < rates.out_of_range
    duplicate = u[:, 3] < rates.duplicate_id
    moji = u[:, 4] < rates.mojibake
    oor_subject = rng.integers(0, 3, n)
    (lo_a, lo_b), (hi_a, hi_b) = OUT_OF_RANGE
    oor_value = np.where(rng.random(n) < 0.5, rng.integers(lo_a, lo_b + 1, n), rng.integers(hi_a, hi_b + 1, n))
    moji_surname = _ACCENTED_SURNAMES[rng.integers(0, len(_ACCENTED_SURNAMES), n)]

    # A mojibake row gets an accented surname so the defect is visible (ASCII survives).
    name_idx = np.where(moji, s["name"] - s["name"] % len(SURNAMES) + moji_surname, s["name"])
    names = np.where(moji, _MOJI_NAMES[name_idx], _FULL_NAMES[name_idx]).tolist()
    scores = s["scores"]
    rows = np.flatnonzero(out_of_range)
    scores[rows, oor_subject[rows]] = oor_value[rows]
    # NULL science wins over an out-of-range science score: count only what is in the file.
    out_of_range &= ~(null_science & (oor_subject == 2))

    lines = _lines(ids, names, s["grado"], s["premios"], s["programa"], scores, null_grade, null_science)

    positions = np.flatnonzero(duplicate)
    if positions.size:
        # The extra row re-uses an id already written (possibly the row just before it)
        # with different data: two conflicting claims about one student.
        dup_ids = rng.integers(1, ids[positions] + 1)
        d = _draw_students(rng, positions.size)
        dup_lines = _lines(dup_ids, _FULL_NAMES[d["name"]].tolist(), d["grado"], d["premios"], d["programa"], d["scores"])
        merged: list[str] = []
        previous = 0
        for position, extra in zip(positions.tolist(), dup_lines):
            merged.extend(lines[previous : position + 1])
            merged.append(extra)
            previous = position + 1
        merged.extend(lines[previous:])
        lines = merged

    summary.rows += len(lines)
    summary.null_grade += int(null_grade.sum())
    summary.null_science += int(null_science.sum())
    summary.out_of_range += int(out_of_range.sum())
    summary.duplicate_id += int(positions.size)
    summary.mojibake += int(moji.sum())
    return lines, (ids, _FULL_NAMES[name_idx].tolist(), s["grado"])


def _open_private(path: Path):
    """A new file only its owner can read: the users file holds plain passwords."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    return os.fdopen(fd, "w", encoding="utf-8", newline="")


def generate(
    out_dir: Path | str,
    students: int,
    seed: int,
    rates: DefectRates | None = None,
    *,
    users: bool = False,
    teachers: int = 3,
    password: str | None = None,
) -> GenerationSummary:
    """Write ``notas.csv`` (and ``usuarios.csv`` if ``users``) into ``out_dir``.

    Each file is written under a temporary name and renamed at the end, so a file with the
    final name is always complete.
    """
    if students < 0:
        raise ValueError("students must be >= 0")
    rates = rates or DefectRates()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = GenerationSummary(students=students, seed=seed)
    rng = np.random.default_rng(seed)

    notas_path, users_path = out / NOTAS_FILE, out / USERS_FILE
    notas_tmp, users_tmp = out / f".{NOTAS_FILE}.tmp", out / f".{USERS_FILE}.tmp"

    def pw() -> str:
        return password if password is not None else secrets.token_urlsafe(9)

    users_fh = _open_private(users_tmp) if users else None
    try:
        with notas_tmp.open("w", encoding="utf-8", newline="") as notas_fh:
            notas_fh.write(",".join(schema.NOTAS_COLUMNS) + "\n")
            if users_fh:
                users_fh.write(",".join(USERS_COLUMNS) + "\n")
            for start in range(1, students + 1, BLOCK_ROWS):
                n = min(BLOCK_ROWS, students + 1 - start)
                lines, (ids, names, grades) = _block(rng, start, n, rates, summary)
                notas_fh.write("".join(lines))
                if users_fh:
                    users_fh.write(
                        "".join(
                            f"{i},{name},{g},{pw()},Estudiante\n"
                            for i, name, g in zip(ids.tolist(), names, grades.tolist())
                        )
                    )
        if users_fh:
            # A separate stream, so the staff accounts do not depend on how many blocks ran.
            staff = np.random.default_rng([seed, 1]).integers(0, len(_FULL_NAMES), teachers + 1)
            for k in range(teachers):
                users_fh.write(f"{students + 1 + k},{_FULL_NAMES[staff[k]]},,{pw()},Profesor\n")
            users_fh.write(f"{students + teachers + 1},{_FULL_NAMES[staff[-1]]},,{pw()},Administrador\n")
            users_fh.close()
            users_fh = None
            os.replace(users_tmp, users_path)
            summary.teachers, summary.administrators = teachers, 1
            summary.files["usuarios"] = str(users_path)
        os.replace(notas_tmp, notas_path)
        summary.files["notas"] = str(notas_path)
    finally:
        if users_fh:
            users_fh.close()
        for tmp in (notas_tmp, users_tmp):
            tmp.unlink(missing_ok=True)
    return summary
