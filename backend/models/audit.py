"""Append-only audit trail, written by the ORM in the same flush as the change it describes.

Who (user id and role), when (UTC), what (entity, id, field changes before/after), why (reason),
from where (request id). On PostgreSQL the migration adds triggers that refuse UPDATE and DELETE of
audit records and refuse to commit a change to an audited table without its audit record
(ICH E6(R2) 4.9.0 / 21 CFR 11.10(e): audit trails that record changes without obscuring them).
"""
from __future__ import annotations

import contextvars
import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.orm.base import NO_VALUE
from sqlalchemy.orm.interfaces import MANYTOONE

from backend.models.base import Base, new_id, utcnow


@dataclass(frozen=True)
class AuditActor:
    user_id: str | None
    role: str
    request_id: str | None = None


SYSTEM_ACTOR = AuditActor(user_id=None, role="system")
current_actor: contextvars.ContextVar[AuditActor] = contextvars.ContextVar("audit_actor", default=SYSTEM_ACTOR)

REASON_KEY = "audit_reason"
#: session.info key: {entity id: reason}, for a flush that writes many records each with its own reason
#: (an import batch, one reason per CSV line); REASON_KEY is the reason of the others.
REASONS_KEY = "audit_reasons"


class AuditRecord(Base):
    __tablename__ = "audit_records"
    # By transaction: the statement-level check of new events reads the records of its transaction (0009).
    __table_args__ = (sa.Index("ix_audit_records_entity", "entity", "entity_id"),
                      sa.Index("ix_audit_records_transaction", "transaction_id", "entity"))

    id: so.Mapped[int] = so.mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    user_id: so.Mapped[str | None] = so.mapped_column(sa.String(36))
    role: so.Mapped[str] = so.mapped_column(sa.String(20))
    action: so.Mapped[str] = so.mapped_column(sa.String(10))  # create | update | delete
    entity: so.Mapped[str] = so.mapped_column(sa.String(40))
    entity_id: so.Mapped[str] = so.mapped_column(sa.String(64))
    changes: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON, default=dict)
    reason: so.Mapped[str | None] = so.mapped_column(sa.Text)
    request_id: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    # PostgreSQL fills it with txid_current(): the top-level transaction, savepoints included,
    # which the audit checks (deferred to commit; for new events, after each statement) compare against.
    transaction_id: so.Mapped[int | None] = so.mapped_column(sa.BigInteger, server_default=sa.FetchedValue())


class Audited:
    """Mixin: every insert, update and delete of the model is audited in the same flush."""

    __audit_exclude__: frozenset[str] = frozenset({"updated_at"})


def _jsonable(value: Any) -> Any:
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def _json_default(value: Any) -> Any:
    """json.dumps' fallback: the same encoding as `_jsonable`, for the values it meets only (fast)."""
    if isinstance(value, tuple):
        return list(value)
    encoded = _jsonable(value)
    if encoded is value:
        raise TypeError(f"{type(value).__name__} is not JSON serialisable")
    return encoded


def _column_attrs(obj: Any):
    mapper = sa.inspect(obj).mapper
    excluded = type(obj).__audit_exclude__
    return [attr for attr in mapper.column_attrs if attr.key not in excluded]


def audit_entry(obj: Any, action: str, changes: dict[str, Any], session: so.Session) -> AuditRecord:
    actor = current_actor.get()
    return AuditRecord(
        at=utcnow(),
        user_id=actor.user_id,
        role=actor.role,
        action=action,
        entity=obj.__tablename__,
        entity_id=str(obj.id),
        changes=changes,
        reason=session.info.get(REASONS_KEY, {}).get(str(obj.id)) or session.info.get(REASON_KEY),
        request_id=actor.request_id,
    )


def record_many(session: so.Session, *, action: str, entity: str, changes_by_id: dict[str, dict[str, Any]],
                reasons: dict[str, str] | None = None) -> int:
    """Audit many records changed outside the ORM unit of work (bulk inserts and updates), one audit
    record per entry of `changes_by_id` (per changed record, found by its own id; or per imported
    calendar, under its patient's id), in the same transaction: one text COPY
    on PostgreSQL, one executemany INSERT elsewhere. `reasons`: by id, where they differ (an import
    batch); the session's reason otherwise. Returns the number written."""
    if not changes_by_id:
        return 0
    actor, at, default = current_actor.get(), utcnow(), session.info.get(REASON_KEY)
    reasons = reasons or {}
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        with connection.connection.driver_connection.cursor() as cursor:
            with cursor.copy(_AUDIT_COPY_SQL) as copy:
                for entity_id, changes in changes_by_id.items():
                    copy.write_row((at, actor.user_id, actor.role, action, entity, entity_id,
                                    json.dumps(changes, default=_json_default), reasons.get(entity_id, default),
                                    actor.request_id))
    else:
        session.execute(sa.insert(AuditRecord.__table__), [
            {"at": at, "user_id": actor.user_id, "role": actor.role, "action": action, "entity": entity,
             "entity_id": entity_id, "changes": _jsonable(changes), "reason": reasons.get(entity_id, default),
             "request_id": actor.request_id}
            for entity_id, changes in changes_by_id.items()])
    return len(changes_by_id)


_AUDIT_COPY_SQL = ("COPY audit_records (at, user_id, role, action, entity, entity_id, changes, reason, request_id) "
                   "FROM STDIN")


def record(session: so.Session, *, action: str, entity: str, entity_id: str, changes: dict[str, Any]) -> AuditRecord:
    """Audit a change made outside the ORM unit of work (bulk inserts), in the same transaction."""
    actor = current_actor.get()
    entry = AuditRecord(
        at=utcnow(), user_id=actor.user_id, role=actor.role, action=action, entity=entity,
        entity_id=entity_id, changes=_jsonable(changes), reason=session.info.get(REASON_KEY),
        request_id=actor.request_id,
    )
    session.add(entry)
    return entry


class AuditRecordImmutable(RuntimeError):
    """Audit records are append-only."""


def _keys_from_relationships(obj: Any) -> dict[str, Any]:
    """Foreign keys a new record gets from the objects it was given (`Patient(study=study)`), which the
    ORM copies only later in the flush: the audit record of a creation names them, never null. A new
    related object is given its id now (the id the flush would give it)."""
    state = sa.inspect(obj)
    keys: dict[str, Any] = {}
    for relationship in state.mapper.relationships:
        if relationship.direction is not MANYTOONE:
            continue
        target = state.attrs[relationship.key].loaded_value
        if target is None or target is NO_VALUE or isinstance(target, (list, set)):
            continue
        for local, remote in relationship.local_remote_pairs:
            value = getattr(target, remote.key, None)
            if value is None and remote.primary_key and remote.key == "id" and sa.inspect(target).pending:
                value = target.id = new_id()
            if value is not None:
                keys[state.mapper.get_property_by_column(local).key] = value
    return keys


@sa.event.listens_for(so.Session, "before_flush")
def _audit_before_flush(session: so.Session, flush_context, instances) -> None:
    entries: list[AuditRecord] = []
    for obj in session.new:
        if isinstance(obj, Audited):
            if getattr(obj, "id", None) is None:
                obj.id = new_id()
            changes = {}
            related = _keys_from_relationships(obj)
            for attr in _column_attrs(obj):
                value = getattr(obj, attr.key)
                if value is None:
                    value = related.get(attr.key)
                if value is None:
                    column = attr.columns[0]
                    default = column.default
                    if default is not None and default.is_scalar:
                        value = default.arg
                changes[attr.key] = {"before": None, "after": _jsonable(value)}
            entries.append(audit_entry(obj, "create", changes, session))
    for obj in session.dirty:
        if isinstance(obj, AuditRecord):
            raise AuditRecordImmutable("audit records cannot be changed")
        if isinstance(obj, Audited) and session.is_modified(obj, include_collections=False):
            state = sa.inspect(obj)
            changes = {}
            for attr in _column_attrs(obj):
                history = state.attrs[attr.key].history
                if history.has_changes():
                    before = history.deleted[0] if history.deleted else None
                    after = history.added[0] if history.added else None
                    if before != after:
                        changes[attr.key] = {"before": _jsonable(before), "after": _jsonable(after)}
            if changes:
                entries.append(audit_entry(obj, "update", changes, session))
    for obj in session.deleted:
        if isinstance(obj, AuditRecord):
            raise AuditRecordImmutable("audit records cannot be deleted")
        if isinstance(obj, Audited):
            changes = {attr.key: {"before": _jsonable(getattr(obj, attr.key)), "after": None} for attr in _column_attrs(obj)}
            entries.append(audit_entry(obj, "delete", changes, session))
    for entry in entries:
        session.add(entry)


@sa.event.listens_for(so.Session, "after_commit")
@sa.event.listens_for(so.Session, "after_rollback")
def _forget_reason(session: so.Session) -> None:
    """A reason explains one change: it never carries over to the session's next transaction."""
    session.info.pop(REASON_KEY, None)
    session.info.pop(REASONS_KEY, None)


@sa.event.listens_for(AuditRecord, "before_update")
@sa.event.listens_for(AuditRecord, "before_delete")
def _refuse_audit_change(mapper, connection, target) -> None:
    raise AuditRecordImmutable("audit records cannot be changed or deleted")


@sa.event.listens_for(so.Mapper, "mapper_configured")
def _keep_old_values(mapper: so.Mapper, cls: type) -> None:
    """Load the old value before an audited column is overwritten, so 'before' is never lost."""
    if issubclass(cls, Audited):
        for attr in mapper.column_attrs:
            mapper.class_manager[attr.key].impl.active_history = True
