"""Accounts (``usuarios``): roles, password hashing, and creating the administrator.

The old system stored every password in plain text (all ``1234``). Imported accounts get a
salted werkzeug hash of that password and ``debe_cambiar_clave = 1``, so the portal forces a
change at first login; the plain text is never stored. A re-import never touches an
existing account's password or role: after the first import those belong to the person and
to the portal's administrators, and replaying an old file must not reset them to ``1234``
or silently promote/demote anyone (a differing role is reported as a warning).
"""

from __future__ import annotations

import unicodedata

from sqlalchemy import select, update
from sqlalchemy.engine import Connection, Engine
from werkzeug.security import generate_password_hash

from caoskol import config, schema
from caoskol.loaders.records import RawRow, check_name, take
from caoskol.loaders.report import FileResult
from caoskol.loaders.values import BadValue

MIN_ADMIN_PASSWORD = 8

# How the users file names roles (``Estudiante``, ``Profesor``), mapped to schema.ROLES.
ROLE_WORDS = {
    "estudiante": "estudiante",
    "alumno": "estudiante",
    "profesor": "profesor",
    "docente": "profesor",
    "administrador": "administrador",
}


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=config.password_hash_method())


def parse_role(value: object) -> str:
    text = "" if value is None else str(value).strip()
    key = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c)).lower()
    role = ROLE_WORDS.get(key)
    if role is None:
        raise BadValue(f"unknown role {value!r} (expected Estudiante, Profesor or Administrador)")
    return role


def usuarios_record(row_id: int, raw: RawRow, result: FileResult) -> dict[str, object] | None:
    """An account row with its *plain* password under ``clave``; the writer hashes it only
    for accounts that are new (hashing is deliberately slow, and existing ones keep theirs)."""
    values = raw.values
    record: dict[str, object] = {"id": row_id}
    problems: list[str] = []
    take(record, problems, "nombre", check_name, row_id, raw.line, values.get("nombre"), result)
    take(record, problems, "rol", parse_role, values.get("rol"))
    password = values.get("clave")
    password = "" if password is None else str(password)
    if not password or password.upper() == "NULL":
        problems.append("clave: no password")
    record["clave"] = password
    if problems:
        result.error(raw.line, "; ".join(problems), row_id)
        return None
    return record


class UserExists(Exception):
    pass


def create_user(
    engine: Engine | Connection,
    user_id: int,
    nombre: str,
    rol: str,
    password: str,
    *,
    must_change: bool = False,
    replace: bool = False,
) -> str:
    """Create (or with ``replace`` reset) one account; returns ``created`` or ``replaced``.

    This is how the demo's administrator comes to exist: no file import creates an account
    with a password someone chose. The password must be at least 8 characters.
    """
    if rol not in schema.ROLES:
        raise ValueError(f"rol must be one of {', '.join(schema.ROLES)}")
    if not nombre.strip():
        raise ValueError("nombre is empty")
    if len(password) < MIN_ADMIN_PASSWORD:
        raise ValueError(f"password shorter than {MIN_ADMIN_PASSWORD} characters")
    row = {
        "nombre": nombre.strip(),
        "rol": rol,
        "clave_hash": hash_password(password),
        "debe_cambiar_clave": must_change,
        "activo": True,
    }
    t = schema.usuarios

    def run(conn: Connection) -> str:
        exists = conn.execute(select(t.c.id).where(t.c.id == user_id).with_for_update()).first()
        if exists and not replace:
            raise UserExists(f"an account with id {user_id} already exists (use --replace to reset it)")
        if exists:
            values = dict(row)
            if "sesion_version" in t.c:
                # A reset password must end the account's existing portal sessions.
                values["sesion_version"] = t.c.sesion_version + 1
            conn.execute(update(t).where(t.c.id == user_id).values(**values))
            return "replaced"
        conn.execute(t.insert().values(id=user_id, **row))
        return "created"

    if isinstance(engine, Connection):
        return run(engine)
    with engine.begin() as conn:
        return run(conn)
