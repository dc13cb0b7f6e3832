"""Every SQL statement of the portal, in one module (SQLAlchemy Core over ``caoskol.schema``).

Views never build SQL. All values travel as bound parameters; the only names chosen at run
time (the sort column of the students table) come from a fixed allow-list.

Per-student reads use ``schema.PUBLIC_STUDENT_COLUMNS`` explicitly: the study program
(``programa``) is never selected, so no page or response can carry it. The one exception is
``_record_for_write``: a write reads the whole stored record inside its own transaction to run
the cleaning policy on it, and returns nothing of it. School statistics are read only from
the published run that ``reporte_actual`` points to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterator

from sqlalchemy import String, and_, bindparam, cast, create_engine, delete, func, insert, or_, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from caoskol import config as caoskol_config
from caoskol import db, schema

from . import records

U = schema.usuarios
N = schema.notas
E = schema.ejecuciones

PUBLIC_COLS = [N.c[name] for name in schema.PUBLIC_STUDENT_COLUMNS]
USER_PUBLIC_COLS = [U.c.id, U.c.nombre, U.c.rol, U.c.activo, U.c.debe_cambiar_clave, U.c.creado_en]
SORTABLE = {name: N.c[name] for name in schema.PUBLIC_STUDENT_COLUMNS}


# Built once: the session check may run on every request, and a statement built per call
# costs more in SQLAlchemy's cache-key work than the round trip itself.
SESSION_CHECK = select(
    U.c.id, U.c.nombre, U.c.rol, U.c.activo, U.c.debe_cambiar_clave, U.c.sesion_version
).where(U.c.id == bindparam("uid"))


class UserExists(Exception):
    pass


class RecordRefused(Exception):
    """A results record the cleaning policy would quarantine: nothing was written."""


def portal_engine(url: str, read_only: bool = False) -> Engine:
    """``caoskol.db.engine`` (utf8mb4, the one place for URL facts) tuned for the portal.

    A page runs two tiny queries; the pre-ping that ``db.engine`` adds would double the round
    trips. Connections are recycled well inside MySQL's wait_timeout instead, and a
    connection that still turns out dead invalidates the pool (SQLAlchemy's disconnect
    handling), so one request fails and the next reconnects.
    """
    base = db.engine(url)
    options: dict[str, Any] = {"pool_pre_ping": False, "pool_recycle": 1800, "pool_size": 5, "max_overflow": 10}
    if read_only:
        # Reads run in autocommit: each SELECT sees the latest committed data (no snapshot
        # kept open between requests), and handing the connection back needs no ROLLBACK
        # round trip. Writes use the transactional engine.
        options.update(isolation_level="AUTOCOMMIT", pool_reset_on_return=None)
    eng = create_engine(base.url, **options)
    base.dispose()
    return eng


@dataclass
class Store:
    colegio: Engine  # writes (transactions): accounts and results records
    reportes: Engine
    colegio_lectura: Engine | None = None  # reads (autocommit)
    reportes_lectura: Engine | None = None

    def __post_init__(self) -> None:
        self.colegio_lectura = self.colegio_lectura or self.colegio
        self.reportes_lectura = self.reportes_lectura or self.reportes
        # Called with an account id after anything that changes who may use that account
        # (password, active flag, session version, deletion): the session cache forgets it.
        self.account_changed: list[Callable[[int], None]] = []

    def _changed(self, user_id: int) -> None:
        for callback in self.account_changed:
            callback(user_id)

    @classmethod
    def from_urls(cls, colegio_url: str, reportes_url: str) -> "Store":
        return cls(portal_engine(colegio_url), portal_engine(reportes_url),
                   portal_engine(colegio_url, read_only=True), portal_engine(reportes_url, read_only=True))

    def dispose(self) -> None:
        for eng in {id(e): e for e in (self.colegio, self.reportes, self.colegio_lectura, self.reportes_lectura)}.values():
            eng.dispose()

    # --- health -----------------------------------------------------------------------

    def ping(self) -> dict[str, str]:
        status = {}
        for name, eng in (("colegio", self.colegio_lectura), ("reportes", self.reportes_lectura)):
            try:
                with eng.connect() as conn:
                    conn.execute(text("SELECT 1"))
                status[name] = "ok"
            except Exception as exc:  # reported, not raised: readiness says which one failed
                status[name] = f"error: {type(exc).__name__}"
        return status

    # --- accounts (colegio.usuarios) ----------------------------------------------------

    def user_for_login(self, user_id: int) -> dict[str, Any] | None:
        stmt = select(
            U.c.id, U.c.nombre, U.c.rol, U.c.clave_hash, U.c.activo, U.c.debe_cambiar_clave, U.c.sesion_version
        ).where(U.c.id == user_id)
        with self.colegio_lectura.connect() as conn:
            row = conn.execute(stmt).mappings().first()
        return dict(row) if row else None

    def user_for_session(self, user_id: int) -> dict[str, Any] | None:
        with self.colegio_lectura.connect() as conn:
            row = conn.execute(SESSION_CHECK, {"uid": user_id}).mappings().first()
        return dict(row) if row else None

    def list_users(
        self, rol: str | None = None, buscar: str | None = None, limit: int = 50, offset: int = 0
    ) -> tuple[list[dict[str, Any]], int]:
        conds = []
        if rol:
            conds.append(U.c.rol == rol)
        if buscar:
            like = "%" + buscar.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            conds.append(or_(U.c.nombre.like(like, escape="\\"), cast(U.c.id, String(20)) == buscar))
        where = and_(*conds) if conds else None
        stmt = select(*USER_PUBLIC_COLS, N.c.grado).select_from(U.outerjoin(N, N.c.id == U.c.id))
        count = select(func.count()).select_from(U)
        if where is not None:
            stmt = stmt.where(where)
            count = count.where(where)
        stmt = stmt.order_by(U.c.id).limit(limit).offset(offset)
        with self.colegio_lectura.connect() as conn:
            rows = [dict(r) for r in conn.execute(stmt).mappings()]
            total = conn.execute(count).scalar_one()
        return rows, total

    def get_user(self, user_id: int) -> dict[str, Any] | None:
        stmt = select(*USER_PUBLIC_COLS, N.c.grado).select_from(U.outerjoin(N, N.c.id == U.c.id)).where(U.c.id == user_id)
        with self.colegio_lectura.connect() as conn:
            row = conn.execute(stmt).mappings().first()
        return dict(row) if row else None

    def next_user_id(self) -> int:
        with self.colegio_lectura.connect() as conn:
            a = conn.execute(select(func.max(U.c.id))).scalar() or 0
            b = conn.execute(select(func.max(N.c.id))).scalar() or 0
        return max(a, b) + 1

    def create_user(
        self, user_id: int, nombre: str, rol: str, clave_hash: str, grado: int | None = None, debe_cambiar: bool = True,
        programa: int | None = None,
    ) -> None:
        """Create an account; a student's also gets their results record (grade, program,
        ``records.NEW_RECORD_DEFAULTS``, scores empty), checked like :meth:`save_scores`.
        (The portal's views require a program; NULL stays legal here, as in the policy.)"""
        try:
            with self.colegio.begin() as conn:
                conn.execute(
                    insert(U).values(
                        id=user_id, nombre=nombre, rol=rol, clave_hash=clave_hash, debe_cambiar_clave=debe_cambiar, activo=True
                    )
                )
                if rol == "estudiante":
                    stored, exists = self._record_for_write(conn, user_id)
                    if exists:
                        raise UserExists(f"ya existe un registro de resultados con el ID {user_id}")
                    values = {**records.NEW_RECORD_DEFAULTS, "nombre": nombre, "grado": grado, "programa": programa}
                    problem = records.policy_problem({**stored, **values})
                    if problem:
                        raise RecordRefused(problem)
                    conn.execute(insert(N).values(id=user_id, **values))
        except IntegrityError as exc:
            raise UserExists(f"ya existe un usuario con el ID {user_id}") from exc

    def set_password(self, user_id: int, clave_hash: str, debe_cambiar: bool) -> bool:
        with self.colegio.begin() as conn:
            res = conn.execute(
                update(U)
                .where(U.c.id == user_id)
                .values(clave_hash=clave_hash, debe_cambiar_clave=debe_cambiar, sesion_version=U.c.sesion_version + 1)
            )
        self._changed(user_id)
        return res.rowcount > 0

    def set_active(self, user_id: int, activo: bool) -> bool:
        with self.colegio.begin() as conn:
            res = conn.execute(
                update(U).where(U.c.id == user_id).values(activo=activo, sesion_version=U.c.sesion_version + 1)
            )
        self._changed(user_id)
        return res.rowcount > 0

    def end_sessions(self, user_id: int) -> None:
        with self.colegio.begin() as conn:
            conn.execute(update(U).where(U.c.id == user_id).values(sesion_version=U.c.sesion_version + 1))
        self._changed(user_id)

    def delete_user(self, user_id: int) -> bool:
        """Delete the account and the student's results record together."""
        with self.colegio.begin() as conn:
            res = conn.execute(delete(U).where(U.c.id == user_id))
            res2 = conn.execute(delete(N).where(N.c.id == user_id))
        self._changed(user_id)
        return res.rowcount > 0 or res2.rowcount > 0

    # --- results (colegio.notas, public columns only) ------------------------------------

    def student(self, student_id: int) -> dict[str, Any] | None:
        with self.colegio_lectura.connect() as conn:
            row = conn.execute(select(*PUBLIC_COLS).where(N.c.id == student_id)).mappings().first()
        return dict(row) if row else None

    def _students_where(self, grado: int | None, sin_grado: bool = False):
        if sin_grado:
            return N.c.grado.is_(None)
        if grado is not None:
            return N.c.grado == grado
        return None

    def students(
        self,
        grado: int | None = None,
        orden: str = "id",
        direccion: str = "asc",
        limit: int | None = 25,
        offset: int = 0,
        sin_grado: bool = False,
    ) -> tuple[list[dict[str, Any]], int]:
        col = SORTABLE.get(orden, N.c.id)
        order = [col.desc() if direccion == "desc" else col.asc()]
        if col is not N.c.id:
            order.append(N.c.id.asc())  # stable pages when the sort column has ties
        stmt = select(*PUBLIC_COLS).order_by(*order)
        count = select(func.count()).select_from(N)
        where = self._students_where(grado, sin_grado)
        if where is not None:
            stmt = stmt.where(where)
            count = count.where(where)
        if limit is not None:
            stmt = stmt.limit(limit).offset(offset)
        with self.colegio_lectura.connect() as conn:
            rows = [dict(r) for r in conn.execute(stmt).mappings()]
            total = conn.execute(count).scalar_one()
        return rows, total

    def iter_students(
        self, grado: int | None = None, orden: str = "id", direccion: str = "asc", sin_grado: bool = False
    ) -> Iterator[dict[str, Any]]:
        """All matching students, streamed (CSV export)."""
        col = SORTABLE.get(orden, N.c.id)
        order = [col.desc() if direccion == "desc" else col.asc(), N.c.id.asc()]
        stmt = select(*PUBLIC_COLS).order_by(*order)
        where = self._students_where(grado, sin_grado)
        if where is not None:
            stmt = stmt.where(where)
        with self.colegio_lectura.connect() as conn:
            result = conn.execution_options(stream_results=True, max_row_buffer=1000).execute(stmt)
            for row in result.mappings():
                yield dict(row)

    def _record_for_write(self, conn, student_id: int) -> tuple[dict[str, Any], bool]:
        """(the stored record with the account's ``rol``, as the nightly extract sees them;
        whether there is a record). Every column, ``programa`` too, locked until the write
        commits; NULL where there is no record or no account. Only for the policy check:
        never returned to a caller."""
        cols = [N.c[c] for c in schema.NOTAS_COLUMNS]
        row = conn.execute(select(*cols).where(N.c.id == student_id).with_for_update()).mappings().first()
        rol = conn.execute(select(U.c.rol).where(U.c.id == student_id)).scalar()
        stored = dict(row) if row else dict.fromkeys(schema.NOTAS_COLUMNS)
        return {**stored, "id": student_id, "rol": rol}, row is not None

    def save_scores(self, student_id: int, values: dict[str, Any]) -> str:
        """Insert or update a student's results record (admin). Returns 'creado' or 'actualizado'.

        The cleaning policy judges the record as it would be stored (the stored fields with
        ``values`` over them; a new record starts from ``records.NEW_RECORD_DEFAULTS``); a
        record it would quarantine raises RecordRefused and nothing is written. A new name is
        written to the account too (``usuarios.nombre``), in the same transaction, so the
        page header and the results table never show two names.
        """
        values = {k: v for k, v in values.items() if k in records.WRITABLE_FIELDS}
        with self.colegio.begin() as conn:
            stored, exists = self._record_for_write(conn, student_id)
            if not exists:
                values = {**records.NEW_RECORD_DEFAULTS, **values}
            problem = records.policy_problem({**stored, **values})
            if problem:
                raise RecordRefused(problem)
            if "nombre" in values:
                conn.execute(update(U).where(U.c.id == student_id).values(nombre=values["nombre"]))
            if exists:
                if values:
                    conn.execute(
                        update(N).where(N.c.id == student_id).values(**values, actualizado_en=func.current_timestamp())
                    )
                result = "actualizado"
            else:
                conn.execute(insert(N).values(id=student_id, **values))
                result = "creado"
        if "nombre" in values:
            self._changed(student_id)  # the session cache holds the account's name (page header)
        return result

    # --- the published report (caoskol_reportes) ----------------------------------------

    def report_state(self) -> dict[str, Any]:
        """Current run (the pointer) and the most recent run of all, in one round trip."""
        ra = schema.reporte_actual
        latest = select(E.c.run_id, E.c.estado, E.c.fecha_logica).order_by(
            E.c.fecha_logica.desc(), E.c.inicio.desc()
        ).limit(1).subquery()
        current = (
            select(ra.c.run_id, ra.c.publicado_en, E.c.fecha_logica, E.c.estado)
            .select_from(ra.outerjoin(E, E.c.run_id == ra.c.run_id))
            .where(ra.c.id == 1)
            .subquery()
        )
        stmt = select(
            current.c.run_id.label("actual"),
            current.c.publicado_en.label("publicado_en"),
            current.c.fecha_logica.label("actual_fecha"),
            latest.c.run_id.label("ultima"),
            latest.c.estado.label("ultima_estado"),
            latest.c.fecha_logica.label("ultima_fecha"),
        ).select_from(latest.outerjoin(current, text("1=1")))
        with self.reportes_lectura.connect() as conn:
            row = conn.execute(stmt).mappings().first()
            if row is None:  # no run at all; a pointer alone cannot exist without runs
                row = conn.execute(
                    select(ra.c.run_id.label("actual"), ra.c.publicado_en).where(ra.c.id == 1)
                ).mappings().first()
        return dict(row) if row else {}

    def _rows(self, table, run_id: str, *order) -> list[dict[str, Any]]:
        cols = [c for c in table.columns if c.name not in ("pk", "run_id")]
        stmt = select(*cols).where(table.c.run_id == run_id)
        if order:
            stmt = stmt.order_by(*order)
        with self.reportes_lectura.connect() as conn:
            return [dict(r) for r in conn.execute(stmt).mappings()]

    def estadisticas(self, run_id: str) -> list[dict[str, Any]]:
        t = schema.estadisticas
        return self._rows(t, run_id, t.c.ambito, t.c.grado, t.c.variable)

    def estudiantes_por_grado(self, run_id: str) -> list[dict[str, Any]]:
        t = schema.estudiantes_por_grado
        return self._rows(t, run_id, t.c.grado)

    def distribucion_premios(self, run_id: str) -> list[dict[str, Any]]:
        t = schema.distribucion_premios
        return self._rows(t, run_id, t.c.ambito, t.c.grado, t.c.premios)

    def histogramas(self, run_id: str) -> list[dict[str, Any]]:
        t = schema.histogramas
        return self._rows(t, run_id, t.c.ambito, t.c.grado, t.c.materia, t.c.puntaje)

    def correlaciones(self, run_id: str) -> list[dict[str, Any]]:
        t = schema.correlaciones
        return self._rows(t, run_id, t.c.ambito, t.c.grado, t.c.variable_x, t.c.variable_y)

    def agregados_programa(self, run_id: str) -> list[dict[str, Any]]:
        t = schema.agregados_programa
        stmt = (
            select(t.c.programa, t.c.variable, t.c.n, t.c.media, t.c.desviacion)
            .where(t.c.run_id == run_id, t.c.n >= caoskol_config.MIN_PROGRAM_GROUP)
            .order_by(t.c.programa, t.c.variable)
        )
        with self.reportes_lectura.connect() as conn:
            return [dict(r) for r in conn.execute(stmt).mappings()]

    def cuarentena(self, run_id: str, limit: int = 50, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        t = schema.cuarentena
        stmt = (
            select(t.c.id_origen, t.c.motivo, t.c.datos)
            .where(t.c.run_id == run_id)
            .order_by(t.c.pk)
            .limit(limit)
            .offset(offset)
        )
        count = select(func.count()).select_from(t).where(t.c.run_id == run_id)
        with self.reportes_lectura.connect() as conn:
            rows = [dict(r) for r in conn.execute(stmt).mappings()]
            total = conn.execute(count).scalar_one()
        return rows, total

    def cuarentena_de(self, run_id: str, ids: list[int]) -> dict[int, str]:
        """The reason each of these students' rows was quarantined by the run (absent: not
        quarantined). One query, bounded by the ids asked (a page, one student), never the
        run's whole quarantine."""
        t = schema.cuarentena
        keys = sorted({str(int(i)) for i in ids if i is not None})
        if not keys:
            return {}
        stmt = (
            select(t.c.id_origen, t.c.motivo)
            .where(t.c.run_id == run_id, t.c.id_origen.in_(keys))
            .order_by(t.c.pk)
        )
        out: dict[int, list[str]] = {}
        with self.reportes_lectura.connect() as conn:
            for r in conn.execute(stmt).mappings():
                out.setdefault(int(r["id_origen"]), []).append(r["motivo"])
        return {sid: public_reason("; ".join(reasons)) for sid, reasons in out.items()}

    def en_revision_por_grado(self, run_id: str, chunk: int = 5000) -> dict[int | None, int]:
        """How many students in ``colegio.notas`` the run quarantined, per grade (None: no grade).

        Reads the run's quarantined ids in chunks (memory bounded by ``chunk``) and counts the
        matching live rows per grade; meant to run once per run version (the caller caches it).
        """
        t = schema.cuarentena
        stmt = select(t.c.id_origen).where(t.c.run_id == run_id, t.c.id_origen.is_not(None)).distinct()
        counts: dict[int | None, int] = {}

        def add(batch: list[int]) -> None:
            count = select(N.c.grado, func.count()).where(N.c.id.in_(batch)).group_by(N.c.grado)
            with self.colegio_lectura.connect() as conn:
                for grado, n in conn.execute(count):
                    counts[grado] = counts.get(grado, 0) + int(n)

        with self.reportes_lectura.connect() as conn:
            result = conn.execution_options(stream_results=True, max_row_buffer=chunk).execute(stmt)
            batch: list[int] = []
            for (origen,) in result:
                text_id = str(origen).strip()
                if text_id.isdigit():
                    batch.append(int(text_id))
                if len(batch) >= chunk:
                    add(batch)
                    batch = []
            if batch:
                add(batch)
        return counts

    def cuarentena_por_motivo(self, run_id: str) -> list[dict[str, Any]]:
        t = schema.cuarentena
        stmt = (
            select(t.c.motivo, func.count().label("n"))
            .where(t.c.run_id == run_id)
            .group_by(t.c.motivo)
            .order_by(func.count().desc())
        )
        with self.reportes_lectura.connect() as conn:
            return [dict(r) for r in conn.execute(stmt).mappings()]

    def ejecuciones(self, limit: int = 20) -> list[dict[str, Any]]:
        stmt = select(*E.columns).order_by(E.c.fecha_logica.desc(), E.c.inicio.desc()).limit(limit)
        with self.reportes_lectura.connect() as conn:
            return [dict(r) for r in conn.execute(stmt).mappings()]

    def ejecucion(self, run_id: str) -> dict[str, Any] | None:
        with self.reportes_lectura.connect() as conn:
            row = conn.execute(select(*E.columns).where(E.c.run_id == run_id)).mappings().first()
        return dict(row) if row else None

    def tendencia(self, limit: int = 30) -> list[dict[str, Any]]:
        """School-wide averages per variable for the last successful runs (oldest first)."""
        t = schema.estadisticas
        runs = (
            select(E.c.run_id, E.c.fecha_logica)
            .where(E.c.estado == "exitosa")
            .order_by(E.c.fecha_logica.desc())
            .limit(limit)
            .subquery()
        )
        stmt = (
            select(runs.c.run_id, runs.c.fecha_logica, t.c.variable, t.c.n, t.c.media)
            .select_from(runs.join(t, t.c.run_id == runs.c.run_id))
            .where(t.c.ambito == "escuela")
            .order_by(runs.c.fecha_logica, t.c.variable)
        )
        with self.reportes_lectura.connect() as conn:
            return [dict(r) for r in conn.execute(stmt).mappings()]


REASON_SEPARATOR = "; "  # as caoskol.cleaning joins a row's reasons
WITHHELD_REASON = "datos que no cumplen las reglas de calidad (el detalle lo tiene la administración del colegio)"


def public_reason(motivo: str) -> str:
    """A quarantine reason as students and teachers may read it.

    The cleaning step never writes a confidential *value* into a reason, but a reason about
    a confidential column ("programa desconocido") still says something about it: such parts
    are left out here (the administrator's quarantine page shows the full text).
    """
    parts = [p.strip() for p in str(motivo).split(REASON_SEPARATOR) if p.strip()]
    shown = [p for p in dict.fromkeys(parts)
             if not any(col in p.lower() for col in schema.CONFIDENTIAL_COLUMNS)]
    if len(shown) < len(dict.fromkeys(parts)):
        shown.append(WITHHELD_REASON)
    return REASON_SEPARATOR.join(shown) if shown else WITHHELD_REASON


def as_datetime(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) else None
