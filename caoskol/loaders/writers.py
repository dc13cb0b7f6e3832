"""Batched upserts into ``colegio``, counting new, changed and unchanged rows.

Rows go in with one ``executemany`` per batch (mysqlclient rewrites it into multi-row
INSERTs), which is what makes a million rows load in seconds rather than hours. Upsert by
id makes a re-import idempotent: the same file twice leaves the same rows, reported as
``unchanged`` the second time.
"""

from __future__ import annotations

from sqlalchemy import bindparam, case, func, select, update
from sqlalchemy.dialects.mysql import insert
from sqlalchemy.engine import Connection

from caoskol import schema
from caoskol.loaders.records import Record
from caoskol.loaders.report import FileResult
from caoskol.loaders.users import hash_password

BATCH_ROWS = 5000

_NOTAS_VALUES = tuple(c for c in schema.NOTAS_COLUMNS if c != "id")


def _notas_upsert():
    t = schema.notas
    stmt = insert(t)
    unchanged = t.c[_NOTAS_VALUES[0]].is_not_distinct_from(stmt.inserted[_NOTAS_VALUES[0]])
    for column in _NOTAS_VALUES[1:]:
        unchanged = unchanged & t.c[column].is_not_distinct_from(stmt.inserted[column])
    # MySQL applies the assignments left to right, so the timestamp must be decided first,
    # while the columns still hold their old values: it moves only when something changed.
    assignments = [("actualizado_en", case((unchanged, t.c.actualizado_en), else_=func.current_timestamp()))]
    assignments += [(column, stmt.inserted[column]) for column in _NOTAS_VALUES]
    return stmt.on_duplicate_key_update(assignments)


class NotasWriter:
    def __init__(self, conn: Connection, result: FileResult) -> None:
        self.conn = conn
        self.result = result
        self.stmt = _notas_upsert()

    def write(self, batch: list[Record]) -> None:
        if not batch:
            return
        t = schema.notas
        rows = [record for _, record in batch]
        ids = [r["id"] for r in rows]
        names = dict(self.conn.execute(select(t.c.id, t.c.nombre).where(t.c.id.in_(ids))).all())
        existing = len(names)
        for line, record in batch:
            old = names.get(record["id"])
            if old is not None and old != record["nombre"]:
                # Same id, another name: more often a different student than a corrected
                # name. The row is updated (the file is the newer truth) but never silently.
                self.result.warn(
                    line,
                    f"id {record['id']} already belonged to '{old}'; its results are replaced by "
                    f"those of '{record['nombre']}' from this file",
                    record["id"],
                )
        affected = self.conn.execute(self.stmt, rows).rowcount
        # SQLAlchemy's MySQL drivers set CLIENT_FOUND_ROWS, so each row counts 1 when
        # inserted or left as it was and 2 when an existing row changed: the excess over
        # the batch size is the number of changed rows.
        changed = affected - len(rows)
        self.result.loaded += len(rows) - existing
        self.result.updated += changed
        self.result.unchanged += existing - changed


class UsuariosWriter:
    """New accounts are inserted with a hashed password and must change it; existing ones
    only get their name corrected (see caoskol.loaders.users for why)."""

    def __init__(self, conn: Connection, result: FileResult) -> None:
        self.conn = conn
        self.result = result

    def write(self, batch: list[Record]) -> None:
        if not batch:
            return
        t = schema.usuarios
        ids = [record["id"] for _, record in batch]
        existing = {
            row.id: row for row in self.conn.execute(select(t.c.id, t.c.nombre, t.c.rol).where(t.c.id.in_(ids)))
        }
        new_rows, renamed = [], []
        for line, record in batch:
            old = existing.get(record["id"])
            if old is None:
                new_rows.append(
                    {
                        "id": record["id"],
                        "nombre": record["nombre"],
                        "rol": record["rol"],
                        "clave_hash": hash_password(record["clave"]),
                        "debe_cambiar_clave": True,
                    }
                )
                continue
            if old.rol != record["rol"]:
                self.result.warn(
                    line,
                    f"id {record['id']} is {old.rol} in the database, {record['rol']} in the file: "
                    "role not changed by an import (change roles in the portal)",
                    record["id"],
                )
            if old.nombre != record["nombre"]:
                renamed.append({"b_id": record["id"], "b_nombre": record["nombre"]})
            else:
                self.result.unchanged += 1
        if new_rows:
            self.conn.execute(t.insert(), new_rows)
            self.result.loaded += len(new_rows)
        if renamed:
            self.conn.execute(
                update(t).where(t.c.id == bindparam("b_id")).values(nombre=bindparam("b_nombre")), renamed
            )
            self.result.updated += len(renamed)
