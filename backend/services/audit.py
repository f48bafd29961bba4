"""Reading the audit trail (writing it is the ORM's job: backend.models.audit).

Admins read everything. A coordinator reads the trail of one record at a time, and only of a record in
their studies: the trail repeats clinical values, so it is scoped like the records themselves.
Every audited record, including each event a re-plan changed in bulk, has its own rows, found by
`entity` (the table name, or its singular) and `id`. The exception is an imported calendar: one record
(entity `events`, the patient's id) names every event it created, by column (`id`, `key`, ... : the
n-th value of each is the n-th event), and the trail of one of those events includes it.
"""
from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from backend.auth import Principal
from backend.errors import InvalidInput, NotFound
from backend.extensions import db
from backend.models import AuditRecord, Event, Patient, Site, User
from backend.models.audit import Audited
from backend.models.base import Base

ENTITY_ALIASES = {"patient": "patients", "event": "events", "study": "studies", "site": "sites", "user": "users",
                  "alert": "symptom_alerts", "symptom_report": "symptom_reports", "assessment": "tumour_assessments",
                  "outcome": "patient_outcomes", "adverse_event": "adverse_events"}


def audited_entities() -> dict[str, type]:
    """Every audited table, by name, with its model."""
    return {mapper.class_.__tablename__: mapper.class_ for mapper in Base.registry.mappers
            if issubclass(mapper.class_, Audited)}


def entity_name(raw: str) -> str:
    """The table a query names (plural table name or its singular alias); 422 listing the valid ones."""
    entities = audited_entities()
    name = ENTITY_ALIASES.get(raw, raw)
    if name not in entities:
        raise InvalidInput("entity", f"Unknown entity {raw!r}; valid: {', '.join(sorted(entities))}.",
                           reason="unknown_entity", location="query")
    return name


def _study_of(entity: str, entity_id: uuid.UUID) -> uuid.UUID | None:
    """The study a record belongs to, for the entities a coordinator may audit."""
    if entity == "studies":
        return entity_id
    if entity == "sites":
        return db.session.scalar(sa.select(Site.study_id).where(Site.id == entity_id))
    if entity == "patients":
        return db.session.scalar(sa.select(Patient.study_id).where(Patient.id == entity_id))
    model = audited_entities().get(entity)
    if model is None or not hasattr(model, "patient_id"):
        return None
    study = db.session.scalar(sa.select(Patient.study_id).join(model, model.patient_id == Patient.id)
                              .where(model.id == entity_id))
    if study is None and entity == "events":  # the per-patient record of events planned before revision 0006
        study = db.session.scalar(sa.select(Patient.study_id).where(Patient.id == entity_id))
    return study


def audit_query(principal: Principal, entity: str | None, entity_id: str | None):
    entity = entity_name(entity) if entity else None
    stmt = sa.select(AuditRecord).order_by(AuditRecord.id)
    if not principal.is_admin:
        if not entity or not entity_id:
            raise InvalidInput("entity", "Coordinators read the trail of one record: give entity and id.",
                               location="query")
        try:
            study_id = _study_of(entity, uuid.UUID(entity_id))
        except ValueError:
            study_id = None
        if study_id is None or study_id not in principal.study_ids:
            raise NotFound("No such record.")
    if entity:
        stmt = stmt.where(AuditRecord.entity == entity)
    if entity == "events" and entity_id:
        stmt = stmt.where(_event_trail(entity_id))
    elif entity_id:
        stmt = stmt.where(AuditRecord.entity_id == entity_id)
    return stmt


def _event_trail(event_id: str):
    """An event's own records, and the record of the imported calendar that created it."""
    own = AuditRecord.entity_id == event_id
    try:
        patient_id = db.session.scalar(sa.select(Event.patient_id).where(Event.id == uuid.UUID(event_id)))
    except ValueError:
        return own
    if patient_id is None or db.session.get_bind().dialect.name != "postgresql":
        return own
    created = sa.cast(AuditRecord.changes, JSONB)["events"]["after"]["id"].contains([event_id])
    return sa.or_(own, sa.and_(AuditRecord.entity_id == str(patient_id), created))


def with_usernames(records: Sequence[AuditRecord]) -> Sequence[AuditRecord]:
    """Name each record's user (one query for the page): `username` is None for the system."""
    user_ids = {entry.user_id: _uuid_or_none(entry.user_id) for entry in records}
    wanted = {value for value in user_ids.values() if value is not None}
    names = dict(db.session.execute(sa.select(User.id, User.username).where(User.id.in_(wanted))).tuples().all())
    for entry in records:
        entry.username = names.get(user_ids[entry.user_id])
    return records


def _uuid_or_none(raw: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw) if raw else None
    except ValueError:
        return None
