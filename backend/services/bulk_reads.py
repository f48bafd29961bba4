"""Reads of many rows by id, shared by the services that derive per-patient facts in bulk (PFS, the
worklist, its cache) and by the reminder delivery jobs."""
from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from backend.extensions import db

CHUNK = 500  # ids per statement where the dialect has no array parameter (SQLite's parameter limit)


def ids_filter(column: sa.ColumnElement, ids: Sequence[uuid.UUID]) -> sa.ColumnElement[bool]:
    """``column`` is one of ``ids``: on PostgreSQL one array parameter (``= ANY(:ids)``), so a study's
    thousand patients are one short statement the driver parses once; elsewhere a plain ``IN``."""
    if db.session.get_bind().dialect.name == "postgresql":
        return column == sa.any_(sa.bindparam("ids", list(ids), type_=postgresql.ARRAY(sa.Uuid()), unique=True))
    return column.in_(list(ids))


def core_connection() -> sa.Connection:
    """The session's connection, for bulk reads as plain Core rows (the ORM's per-row work costs more than
    the query); pending changes are flushed first, as `Session.execute` would autoflush them."""
    if db.session.autoflush:
        db.session.flush()
    return db.session.connection()


def chunks(ids: Sequence[uuid.UUID]) -> list[Sequence[uuid.UUID]]:
    """One chunk on PostgreSQL (`ids_filter`), chunks of 500 elsewhere (SQLite's parameter limit)."""
    if db.session.get_bind().dialect.name == "postgresql":
        return [ids] if ids else []
    return [ids[start:start + CHUNK] for start in range(0, len(ids), CHUNK)]
