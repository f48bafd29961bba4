"""Reading the audit trail (writing it is the ORM's job: backend.models.audit)."""
from __future__ import annotations

import sqlalchemy as sa

from backend.extensions import db
from backend.models import AuditRecord

ENTITY_ALIASES = {"patient": "patients", "event": "events", "study": "studies", "site": "sites", "user": "users"}


def audit_query(entity: str | None, entity_id: str | None):
    stmt = sa.select(AuditRecord).order_by(AuditRecord.id)
    if entity:
        stmt = stmt.where(AuditRecord.entity == ENTITY_ALIASES.get(entity, entity))
    if entity_id:
        stmt = stmt.where(AuditRecord.entity_id == entity_id)
    return stmt
