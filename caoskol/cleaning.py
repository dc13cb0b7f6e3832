"""The cleaning policy: which raw rows enter the statistics and which go to quarantine.

The policy is written out in ``docs/CLEANING_POLICY.md``; this module is its only
implementation. :func:`apply_policy` is a pure function on a pandas DataFrame of raw rows
(the columns of the raw snapshot, see ``docs/CONTRACTS.md``); :func:`clean_run` applies it
to one run's ``raw/`` folder and writes ``clean/`` and ``quarantine/``.

Hard rules (the row goes to quarantine, with every reason that applies, joined by ``"; "``):

* ``id ausente`` - ``id`` is NULL.
* ``id duplicado`` - the id appears more than once in the snapshot: *all* its rows go,
  since nothing tells which one is right.
* ``no es estudiante: rol <rol>`` - ``rol`` is present and is not ``estudiante``
  (compared ignoring case and surrounding spaces). Teachers and administrators never
  enter student statistics.
* ``grado fuera de rango 6-12: <grado>`` - ``grado`` present and outside 6-12.
* ``puntaje fuera de rango 0-100: <materia>=<puntaje>`` - one per subject whose score is
  present and outside 0-100.
* ``premios negativos o ausentes`` - ``premios`` NULL or negative.
* ``programa desconocido`` - ``programa`` present and not a known code. The value is never
  written anywhere (the study program is confidential).

Soft (the row is kept): ``grado`` NULL ("sin grado": school-wide statistics only), a NULL
subject score (left out of that subject only), ``programa`` NULL, ``rol`` NULL (a student
without a login account).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import pandas as pd

from caoskol import config, schema
from caoskol.errors import PermanentError

# Columns of the raw snapshot written by extract (docs/CONTRACTS.md).
RAW_COLUMNS = schema.NOTAS_COLUMNS + ("rol",)
INT_COLUMNS = tuple(c for c in schema.NOTAS_COLUMNS if c != "nombre")
# What a quarantined row keeps in ``datos``: every raw column except the confidential ones.
DATOS_COLUMNS = tuple(c for c in RAW_COLUMNS if c not in schema.CONFIDENTIAL_COLUMNS)
QUARANTINE_COLUMNS = ("id_origen", "motivo", "datos")

STUDENT_ROLE = "estudiante"
GRADE_MIN, GRADE_MAX = min(schema.GRADES), max(schema.GRADES)
KNOWN_PROGRAMS = tuple(sorted(schema.PROGRAMS))

# The reason strings (Spanish: they are shown to the school's staff as they are).
REASON_ID_MISSING = "id ausente"
REASON_ID_DUPLICATE = "id duplicado"
REASON_NOT_STUDENT = "no es estudiante"  # + ": rol <rol>"
REASON_GRADE = f"grado fuera de rango {GRADE_MIN}-{GRADE_MAX}"  # + ": <grado>"
REASON_SCORE = f"puntaje fuera de rango {schema.SCORE_MIN}-{schema.SCORE_MAX}"  # + ": <materia>=<n>"
REASON_AWARDS = "premios negativos o ausentes"
REASON_PROGRAM = "programa desconocido"  # never followed by the value
REASON_SEPARATOR = "; "

PART_NAME = "part-00000.parquet"


class CleaningError(PermanentError):
    """The raw snapshot cannot be cleaned at all (missing columns, non-integer types)."""


# --- the pure policy ---------------------------------------------------------------------


def find_duplicate_ids(ids: Iterable | pd.Series) -> np.ndarray:
    """Ids (not NULL) that occur more than once. Works on ids alone: 10M ids are ~80 MB."""
    s = pd.Series(ids, dtype="Int64") if not isinstance(ids, pd.Series) else ids.astype("Int64")
    s = s.dropna()
    return s[s.duplicated(keep=False)].unique().to_numpy(dtype="int64")


def apply_policy(
    raw: pd.DataFrame, duplicate_ids: Iterable[int] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split raw rows into (clean, quarantine) following the policy above.

    ``raw`` has the raw snapshot's columns (extra columns are ignored). ``duplicate_ids``
    are the ids repeated in the *whole* snapshot; when None they are computed from ``raw``
    itself (right when ``raw`` is the whole snapshot, wrong for one chunk of it).

    Returns ``clean`` with exactly ``schema.NOTAS_COLUMNS`` (integers as nullable Int64,
    ``nombre`` as string) and ``quarantine`` with ``id_origen``, ``motivo``, ``datos``
    (strings; ``datos`` is the row as JSON without ``programa``). Both keep the raw order
    and have a fresh 0..n-1 index. Does not modify ``raw``.
    """
    df = _typed(raw)
    if duplicate_ids is None:
        duplicate_ids = find_duplicate_ids(df["id"])
    dup = np.asarray(list(duplicate_ids) if not isinstance(duplicate_ids, np.ndarray) else duplicate_ids)

    # One (mask, reason) per rule, in policy order. A reason that quotes the value is a
    # function of the rows it applies to: its text is built for those rows only, so the
    # cost is boolean masks over the batch plus string work on the (few) quarantined rows.
    rules: list[tuple[np.ndarray, str | Callable[[np.ndarray], pd.Series]]] = []

    def rule(mask: pd.Series, text: str | Callable[[np.ndarray], pd.Series]) -> None:
        rules.append((mask.fillna(False).astype(bool).to_numpy(), text))

    def quoting(prefix: str, values: pd.Series) -> Callable[[np.ndarray], pd.Series]:
        return lambda positions: prefix + values.iloc[positions].astype("string")

    ident = df["id"]
    rule(ident.isna(), REASON_ID_MISSING)
    rule(ident.isin(dup) if len(dup) else pd.Series(False, index=df.index), REASON_ID_DUPLICATE)

    role = df["rol"].str.strip().str.lower()
    rule(role.notna() & (role != STUDENT_ROLE), quoting(f"{REASON_NOT_STUDENT}: rol ", role))

    grade = df["grado"]
    rule(grade.notna() & ((grade < GRADE_MIN) | (grade > GRADE_MAX)), quoting(f"{REASON_GRADE}: ", grade))

    for subject in schema.SUBJECTS:
        score = df[subject]
        rule(
            score.notna() & ((score < schema.SCORE_MIN) | (score > schema.SCORE_MAX)),
            quoting(f"{REASON_SCORE}: {subject}=", score),
        )

    awards = df["premios"]
    rule(awards.isna() | (awards < 0), REASON_AWARDS)

    program = df["programa"]
    rule(program.notna() & ~program.isin(KNOWN_PROGRAMS), REASON_PROGRAM)

    bad = np.zeros(len(df), dtype=bool)
    for mask, _ in rules:
        bad |= mask
    motivo = _join_reasons(rules, np.flatnonzero(bad), df.index)

    clean = df.loc[~bad, list(schema.NOTAS_COLUMNS)].reset_index(drop=True)
    quarantined = df.loc[bad]
    quarantine = pd.DataFrame(
        {
            "id_origen": quarantined["id"].astype("string"),
            "motivo": motivo,
            "datos": pd.Series(_row_json(quarantined), index=quarantined.index, dtype="string"),
        },
        columns=list(QUARANTINE_COLUMNS),
    ).reset_index(drop=True)
    return clean, quarantine


def count_reasons(quarantine: pd.DataFrame) -> dict[str, int]:
    """Quarantined rows per reason kind (the reason text before ``": "``).

    A row with several reasons counts once under each of its kinds (a row with two
    out-of-range subjects counts once under ``puntaje fuera de rango 0-100``).
    """
    if quarantine.empty:
        return {}
    parts = quarantine["motivo"].astype(str).str.split(REASON_SEPARATOR).explode()
    kinds = parts.str.split(": ", n=1).str[0]
    pairs = pd.DataFrame({"row": kinds.index, "kind": kinds.to_numpy()}).drop_duplicates()
    return {k: int(v) for k, v in pairs["kind"].value_counts().sort_index().items()}


def _typed(raw: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in RAW_COLUMNS if c not in raw.columns]
    if missing:
        raise CleaningError(
            f"faltan columnas en los datos crudos: {', '.join(missing)} / "
            f"raw data lacks columns: {', '.join(missing)}"
        )
    out = {col: _to_int64(raw[col], col) for col in INT_COLUMNS}
    out["nombre"] = raw["nombre"].astype("string")
    out["rol"] = raw["rol"].astype("string")
    return pd.DataFrame(out, index=raw.index)[list(RAW_COLUMNS)]


def _to_int64(col: pd.Series, name: str) -> pd.Series:
    """Exact conversion to Int64, or CleaningError. Never rounds: pandas' own
    ``Float64 -> Int64`` cast silently truncates 58.5 to 58 (pandas 3.1)."""
    from pandas.api import types as pdt

    dtype = col.dtype
    ok = False
    if pdt.is_integer_dtype(dtype) and not pdt.is_bool_dtype(dtype):
        ok = True
    elif pdt.is_float_dtype(dtype):
        values = col.dropna()
        ok = bool(((values % 1) == 0).all())
    elif dtype == object:
        ok = pdt.infer_dtype(col, skipna=True) in ("integer", "empty")
    if not ok:
        raise CleaningError(
            f"la columna {name} no es entera (tipo {dtype}) / column {name} is not integer (dtype {dtype})"
        )
    return col.astype("Int64")


def _join_reasons(rules, bad_positions: np.ndarray, index: pd.Index) -> pd.Series:
    """The reasons of each row at ``bad_positions``, in rule order, joined by ``"; "``."""
    parts: list[list[str]] = [[] for _ in range(len(bad_positions))]
    for mask, text in rules:
        hit = mask[bad_positions]
        if not hit.any():
            continue
        where = np.flatnonzero(hit)
        texts = [text] * len(where) if isinstance(text, str) else text(bad_positions[where]).tolist()
        for j, t in zip(where.tolist(), texts):
            parts[j].append(t)
    return pd.Series([REASON_SEPARATOR.join(p) for p in parts], index=index[bad_positions], dtype="string")


def _row_json(rows: pd.DataFrame) -> list[str]:
    records = rows[list(DATOS_COLUMNS)].astype(object).where(rows[list(DATOS_COLUMNS)].notna(), None)
    return [
        json.dumps(rec, ensure_ascii=False, default=_json_default)
        for rec in records.to_dict("records")
    ]


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


# --- one run: raw/ -> clean/ + quarantine/ -------------------------------------------------


def parquet_parts(folder: Path) -> list[Path]:
    """The Parquet part files of a snapshot folder, in name order."""
    return sorted(p for p in Path(folder).glob("*.parquet") if p.is_file())


def arrow_to_pandas(table):
    """pyarrow Table/RecordBatch -> pandas with nullable dtypes (Int64, string, Float64).

    NULLs stay ``pd.NA`` instead of turning integer columns into float64.
    """
    import pyarrow as pa

    def mapper(t):
        if pa.types.is_integer(t):
            return pd.Int64Dtype()
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            return pd.StringDtype()
        if pa.types.is_floating(t):
            return pd.Float64Dtype()
        if pa.types.is_boolean(t):
            return pd.BooleanDtype()
        return None

    return table.to_pandas(types_mapper=mapper)


def read_snapshot(folder: Path, columns: list[str] | None = None) -> pd.DataFrame:
    """Read every part file of a snapshot folder into one pandas DataFrame (nullable dtypes).

    Memory: the whole folder is materialised. With the 9 raw columns that is about
    80-100 bytes per row (eight Int64 columns at 9 bytes plus the name), so ~100 MB per
    million rows, and the caller's work on it (GX metrics, copies) several times that.
    A folder without part files reads as an empty frame with ``columns`` (or none).
    """
    import pyarrow.dataset as ds

    if not Path(folder).is_dir():
        raise FileNotFoundError(f"no existe la carpeta / no such folder: {folder}")
    parts = parquet_parts(folder)
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in (columns or [])})
    table = ds.dataset([str(p) for p in parts], format="parquet").to_table(columns=columns)
    return arrow_to_pandas(table)


def _iter_raw_batches(parts: list[Path], batch_rows: int) -> Iterator[pd.DataFrame]:
    import pyarrow.parquet as pq

    for part in parts:
        pf = pq.ParquetFile(part)
        for batch in pf.iter_batches(batch_size=batch_rows):
            yield arrow_to_pandas(batch)


def clean_schema():
    """Arrow schema of ``clean/`` (int64 / string), with pandas metadata so that
    ``pd.read_parquet`` gives back Int64 and string instead of float64 for NULLs."""
    import pyarrow as pa

    arrow = pa.schema(
        [(c, pa.string() if c == "nombre" else pa.int64()) for c in schema.NOTAS_COLUMNS]
    )
    empty = pd.DataFrame(
        {c: pd.Series(dtype="string" if c == "nombre" else "Int64") for c in schema.NOTAS_COLUMNS}
    )
    return pa.Table.from_pandas(empty, schema=arrow, preserve_index=False).schema


def quarantine_schema():
    import pyarrow as pa

    arrow = pa.schema([(c, pa.string()) for c in QUARANTINE_COLUMNS])
    empty = pd.DataFrame({c: pd.Series(dtype="string") for c in QUARANTINE_COLUMNS})
    return pa.Table.from_pandas(empty, schema=arrow, preserve_index=False).schema


def clean_run(run_dir: str | Path, batch_rows: int | None = None) -> dict:
    """Apply the policy to ``run_dir/raw/`` and write ``clean/`` and ``quarantine/``.

    Two passes over the raw part files: the first reads only ``id`` to find the repeated
    ids (the only rule that needs the whole snapshot; ids alone fit in memory even at 10M
    rows), the second streams ``batch_rows`` rows at a time through :func:`apply_policy`
    into one ``part-00000.parquet`` in each output folder. Output files are written under
    a temporary name and renamed, and stale part files are removed first, so a retried
    task never leaves a mix of two attempts.

    Returns ``{"read", "clean", "quarantined", "by_reason"}`` (``by_reason``: see
    :func:`count_reasons`).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    run_dir = Path(run_dir)
    raw_dir = run_dir / "raw"
    if not raw_dir.is_dir():
        raise FileNotFoundError(f"no existe la carpeta cruda / no raw folder: {raw_dir}")
    parts = parquet_parts(raw_dir)
    batch_rows = batch_rows or config.CLEAN_BATCH_ROWS

    ids = [arrow_to_pandas(pq.read_table(p, columns=["id"]))["id"] for p in parts]
    duplicate_ids = find_duplicate_ids(pd.concat(ids, ignore_index=True) if ids else pd.Series([], dtype="Int64"))
    del ids

    outputs = {}
    for name, arrow_schema in (("clean", clean_schema()), ("quarantine", quarantine_schema())):
        folder = run_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.parquet*"):
            stale.unlink()
        tmp = folder / (PART_NAME + ".tmp")
        outputs[name] = (tmp, folder / PART_NAME, pq.ParquetWriter(tmp, arrow_schema), arrow_schema)

    read = n_clean = n_quarantine = 0
    by_reason: dict[str, int] = {}
    try:
        for raw in _iter_raw_batches(parts, batch_rows):
            clean, quarantine = apply_policy(raw, duplicate_ids)
            read += len(raw)
            n_clean += len(clean)
            n_quarantine += len(quarantine)
            for kind, n in count_reasons(quarantine).items():
                by_reason[kind] = by_reason.get(kind, 0) + n
            for name, frame in (("clean", clean), ("quarantine", quarantine)):
                _, _, writer, arrow_schema = outputs[name]
                if len(frame):
                    writer.write_table(pa.Table.from_pandas(frame, schema=arrow_schema, preserve_index=False))
    except BaseException:
        for tmp, _, writer, _ in outputs.values():
            writer.close()
            tmp.unlink(missing_ok=True)
        raise
    for tmp, final, writer, _ in outputs.values():
        writer.close()
        os.replace(tmp, final)

    return {
        "read": read,
        "clean": n_clean,
        "quarantined": n_quarantine,
        "by_reason": dict(sorted(by_reason.items())),
    }
