"""Reading the audit trail (writing it is the ORM's job: backend.models.audit).

Admins read everything. A coordinator reads the trail of one record at a time, and only of a record in
their studies: the trail repeats clinical values, so it is scoped like the records themselves.
"""
from __future__ import annotations

import uuid

import sqlalchemy as sa

from backend.auth import Principal
from backend.errors import InvalidInput, NotFound
from backend.extensions import db
from backend.models import AuditRecord, Event, Patient, Site

ENTITY_ALIASES = {"patient": "patients", "event": "events", "study": "studies", "site": "sites", "user": "users"}


def _study_of(entity: str, entity_id: uuid.UUID) -> uuid.UUID | None:
    """The study a record belongs to, for the entities a coordinator may audit."""
    if entity == "studies":
        return entity_id
    if entity == "sites":
        return db.session.scalar(sa.select(Site.study_id).where(Site.id == entity_id))
    if entity == "patients":
        return db.session.scalar(sa.select(Patient.study_id).where(Patient.id == entity_id))
    if entity == "events":
        # Event-level records, and the per-patient record of bulk-planned events (keyed by patient id).
        study = db.session.scalar(sa.select(Patient.study_id).join(Event, Event.patient_id == Patient.id)
                                  .where(Event.id == entity_id))
        return study or db.session.scalar(sa.select(Patient.study_id).where(Patient.id == entity_id))
    return None


def audit_query(principal: Principal, entity: str | None, entity_id: str | None):
    entity = ENTITY_ALIASES.get(entity, entity) if entity else None
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
    if entity_id:
        stmt = stmt.where(AuditRecord.entity_id == entity_id)
    return stmt
