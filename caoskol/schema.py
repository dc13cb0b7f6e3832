"""The one definition of every table and column Caoskol uses.

Two MySQL schemas:

* ``colegio`` - the school's system of record (``usuarios``, ``notas``). The loader and the
  portal's user management write it; the pipeline only reads it.
* ``caoskol_reportes`` - what the nightly pipeline publishes (aggregates only, never a
  per-student row, never the study program per student) plus its run log. The portal
  reads the run that ``reporte_actual`` points to.

Tables are SQLAlchemy Core objects so that DDL, the publisher and the portal share them.
"""

from __future__ import annotations

import secrets

from sqlalchemy.dialects import mysql
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Enum,
    Float,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    func,
)

# --- Facts about the data ---------------------------------------------------------------

SUBJECTS = ("matematicas", "ingles", "ciencias")
# Variables summarised by the statistics job: the three subjects and the awards count.
STAT_VARIABLES = SUBJECTS + ("premios",)
NOTAS_COLUMNS = ("id", "nombre", "grado", "premios", "programa") + SUBJECTS
# Columns that may be shown per student. `programa` is confidential and is never here.
PUBLIC_STUDENT_COLUMNS = ("id", "nombre", "grado", "premios") + SUBJECTS
CONFIDENTIAL_COLUMNS = ("programa",)

GRADES = tuple(range(6, 13))


def grade_from_text(text: str) -> int | None:
    """A grade written in a URL or a form as 1 or 2 ASCII digits, else None (not an error:
    callers treat it as "no grade filter"). ``str.isdigit`` alone also accepts "³" and
    5,000-digit strings, which ``int()`` refuses or Python refuses to convert."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 2 else None
SCORE_MIN, SCORE_MAX = 0, 100
PROGRAMS = {0: "Academico", 1: "Vocacional", 3: "General"}
ROLES = ("estudiante", "profesor", "administrador")


def first_session_version() -> int:
    """A new account's ``sesion_version``: random, with room left for increments."""
    return secrets.randbelow(2**30)


COLEGIO_DB = "colegio"
REPORTES_DB = "caoskol_reportes"

_MYSQL = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}

# --- colegio: the system of record -----------------------------------------------------

colegio_metadata = MetaData()

# The largest student/account id: `id` is a signed INT in notas and usuarios.
MAX_ID = 2**31 - 1

usuarios = Table(
    "usuarios",
    colegio_metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("nombre", String(150), nullable=False),
    Column("rol", Enum(*ROLES, name="rol"), nullable=False),
    # Salted hash (werkzeug format). The plain password is never stored.
    Column("clave_hash", String(255), nullable=False),
    # Accounts imported from the old system all had the password "1234": they must change it.
    Column("debe_cambiar_clave", Boolean, nullable=False, server_default="0"),
    Column("activo", Boolean, nullable=False, server_default="1"),
    # Portal sessions carry this number; logout, a password change or reset and disabling
    # the account increment it, so every copy of an older session cookie stops working
    # (server-side logout with signed-cookie sessions). A new account starts at a random
    # number, not 0: a deleted account's ID given to a new account must not accept the
    # deleted account's cookies.
    Column("sesion_version", Integer, nullable=False, server_default="0", default=first_session_version),
    Column("creado_en", DateTime, nullable=False, server_default=func.current_timestamp()),
    **_MYSQL,
)

notas = Table(
    "notas",
    colegio_metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("nombre", String(150), nullable=False),
    # NULL grade and NULL science are real in the school's data; the pipeline's cleaning
    # policy decides what they mean. Scores are not range-checked here on purpose: the
    # pipeline measures and quarantines out-of-range values instead of losing them.
    Column("grado", SmallInteger, nullable=True),
    Column("premios", SmallInteger, nullable=True),
    Column("programa", SmallInteger, nullable=True),  # confidential
    Column("matematicas", SmallInteger, nullable=True),
    Column("ingles", SmallInteger, nullable=True),
    Column("ciencias", SmallInteger, nullable=True),
    Column(
        "actualizado_en",
        DateTime,
        nullable=False,
        server_default=func.current_timestamp(),
    ),
    Index("ix_notas_grado", "grado"),
    **_MYSQL,
)

# --- caoskol_reportes: what the pipeline publishes -------------------------------------

reportes_metadata = MetaData()

# "reemplazada": a later run of the same logical date published in its place.
# Microseconds kept: manual runs have sub-second logical dates, and a re-run of the same
# date is found by comparing them.
_PRECISE_TIME = DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

RUN_STATES = ("en_curso", "exitosa", "fallida", "reemplazada")

ejecuciones = Table(
    "ejecuciones",
    reportes_metadata,
    Column("run_id", String(250), primary_key=True),
    Column("fecha_logica", _PRECISE_TIME, nullable=False),
    Column("inicio", _PRECISE_TIME, nullable=True),
    Column("fin", _PRECISE_TIME, nullable=True),
    Column("estado", Enum(*RUN_STATES, name="estado"), nullable=False),
    Column("filas_leidas", BigInteger, nullable=True),
    Column("filas_limpias", BigInteger, nullable=True),
    Column("filas_cuarentena", BigInteger, nullable=True),
    Column("validacion_cruda_ok", Boolean, nullable=True),
    Column("validacion_limpia_ok", Boolean, nullable=True),
    # {"expectativa": {"exito": bool, "observado": ...}} summaries of both suites.
    Column("validacion_detalle", JSON, nullable=True),
    Column("tiempos_tareas", JSON, nullable=True),  # {"extract": seconds, ...}
    Column("data_docs", String(500), nullable=True),  # path of the GX Data Docs HTML
    Column("error", Text, nullable=True),
    **_MYSQL,
)

# One row: the run readers must see. Moved only after a run's rows are all committed.
reporte_actual = Table(
    "reporte_actual",
    reportes_metadata,
    Column("id", SmallInteger, primary_key=True, autoincrement=False),
    Column("run_id", String(250), nullable=False),
    Column("publicado_en", DateTime, nullable=False, server_default=func.current_timestamp()),
    **_MYSQL,
)

SCOPES = ("escuela", "grado")


def _run_fk() -> Column:
    return Column("run_id", String(250), nullable=False, index=True)


estadisticas = Table(
    "estadisticas",
    reportes_metadata,
    Column("pk", BigInteger, primary_key=True, autoincrement=True),
    _run_fk(),
    Column("ambito", Enum(*SCOPES, name="ambito"), nullable=False),
    Column("grado", SmallInteger, nullable=True),  # NULL when ambito = escuela
    Column("variable", String(20), nullable=False),
    Column("n", BigInteger, nullable=False),
    # NULL where undefined (no values; stddev of a single value). Never NaN, never 0.
    Column("media", Float(53), nullable=True),
    Column("desviacion", Float(53), nullable=True),
    Column("minimo", Float(53), nullable=True),
    Column("maximo", Float(53), nullable=True),
    **_MYSQL,
)

estudiantes_por_grado = Table(
    "estudiantes_por_grado",
    reportes_metadata,
    Column("pk", BigInteger, primary_key=True, autoincrement=True),
    _run_fk(),
    Column("grado", SmallInteger, nullable=True),  # NULL = "sin grado"
    Column("n", BigInteger, nullable=False),
    **_MYSQL,
)

distribucion_premios = Table(
    "distribucion_premios",
    reportes_metadata,
    Column("pk", BigInteger, primary_key=True, autoincrement=True),
    _run_fk(),
    Column("ambito", Enum(*SCOPES, name="ambito"), nullable=False),
    Column("grado", SmallInteger, nullable=True),
    Column("premios", SmallInteger, nullable=False),
    Column("n", BigInteger, nullable=False),
    **_MYSQL,
)

# Count of students per integer score, per grade (and school-wide, grado NULL with
# ambito = escuela): enough to place one student against the grade exactly.
histogramas = Table(
    "histogramas",
    reportes_metadata,
    Column("pk", BigInteger, primary_key=True, autoincrement=True),
    _run_fk(),
    Column("ambito", Enum(*SCOPES, name="ambito"), nullable=False),
    Column("grado", SmallInteger, nullable=True),
    Column("materia", String(20), nullable=False),
    Column("puntaje", SmallInteger, nullable=False),
    Column("n", BigInteger, nullable=False),
    **_MYSQL,
)

correlaciones = Table(
    "correlaciones",
    reportes_metadata,
    Column("pk", BigInteger, primary_key=True, autoincrement=True),
    _run_fk(),
    Column("ambito", Enum(*SCOPES, name="ambito"), nullable=False),
    Column("grado", SmallInteger, nullable=True),
    Column("variable_x", String(20), nullable=False),
    Column("variable_y", String(20), nullable=False),
    Column("n", BigInteger, nullable=False),  # pairs where both values are present
    Column("r", Float(53), nullable=True),  # NULL where undefined (constant, n < 2)
    **_MYSQL,
)

# Aggregates by study program, only for groups of at least MIN_PROGRAM_GROUP students.
agregados_programa = Table(
    "agregados_programa",
    reportes_metadata,
    Column("pk", BigInteger, primary_key=True, autoincrement=True),
    _run_fk(),
    Column("programa", SmallInteger, nullable=False),
    Column("variable", String(20), nullable=False),
    Column("n", BigInteger, nullable=False),
    Column("media", Float(53), nullable=True),
    Column("desviacion", Float(53), nullable=True),
    **_MYSQL,
)

# Rows the cleaning policy refused, with why. `datos` never holds the study program.
cuarentena = Table(
    "cuarentena",
    reportes_metadata,
    Column("pk", BigInteger, primary_key=True, autoincrement=True),
    _run_fk(),
    Column("id_origen", String(64), nullable=True),
    Column("motivo", String(500), nullable=False),
    Column("datos", JSON, nullable=True),
    # The portal looks up the quarantined students of a page by id within the current run.
    Index("ix_cuarentena_run_id_origen", "run_id", "id_origen"),
    **_MYSQL,
)

# Tables that hold one run's report; publish replaces a run's rows in all of them at once.
REPORT_TABLES = (
    estadisticas,
    estudiantes_por_grado,
    distribucion_premios,
    histogramas,
    correlaciones,
    agregados_programa,
    cuarentena,
)
