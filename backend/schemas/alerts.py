"""Symptom alerts on the wire (CONTRACT.md "Site work")."""
from __future__ import annotations

import marshmallow as ma

from backend.models.alerts import ALERT_STATUSES
from backend.schemas.fields import UtcDateTime


class AlertQuerySchema(ma.Schema):
    site = ma.fields.String(load_default=None, validate=ma.validate.Length(min=1, max=40),
                            metadata={"description": "Site code"})
    status = ma.fields.String(load_default=None, validate=ma.validate.OneOf(ALERT_STATUSES), metadata={
        "description": "open | closed: every status an alert takes"})


class AlertAcknowledgeSchema(ma.Schema):
    action = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=2000), metadata={
        "description": "What was done, e.g. 'Called the patient; advised to attend clinic today'"})


class AlertFindingSchema(ma.Schema):
    rule = ma.fields.String(dump_only=True, metadata={"description": "composite_grade | severe_symptom | worsening"})
    term_number = ma.fields.Integer(dump_only=True)
    term = ma.fields.String(dump_only=True, metadata={"description": "The PRO-CTCAE symptom"})
    item_code = ma.fields.String(dump_only=True, allow_none=True)
    detail = ma.fields.Dict(dump_only=True, metadata={"description": "What made the rule fire"})


class AlertSchema(ma.Schema):
    id = ma.fields.String(dump_only=True)
    patient_id = ma.fields.String(dump_only=True)
    subject_id = ma.fields.Function(lambda alert: alert.patient.subject_id, dump_only=True)
    site = ma.fields.Function(lambda alert: alert.site.code, dump_only=True)
    report_id = ma.fields.String(dump_only=True)
    symptoms = ma.fields.List(ma.fields.Nested(lambda: AlertFindingSchema()), dump_only=True, metadata={
        "description": "Every symptom and rule that fired for the report, the most serious first"})
    rule = ma.fields.String(dump_only=True, metadata={
        "description": "The most serious finding's rule: composite_grade | severe_symptom | worsening"})
    term = ma.fields.String(dump_only=True, metadata={"description": "The PRO-CTCAE symptom"})
    item_code = ma.fields.String(dump_only=True, allow_none=True)
    answers = ma.fields.Function(lambda alert: alert.detail.get("answers", {}), dump_only=True, metadata={
        "type": "object", "description": "The symptom's answers in the report, after branching"})
    detail = ma.fields.Dict(dump_only=True, metadata={"description": "What made the rule fire"})
    status = ma.fields.String(dump_only=True)
    created_at = UtcDateTime(dump_only=True)
    acknowledged_by = ma.fields.Function(
        lambda alert: alert.acknowledged_by.username if alert.acknowledged_by else None, dump_only=True)
    acknowledged_at = UtcDateTime(dump_only=True, allow_none=True)
    action = ma.fields.String(dump_only=True, allow_none=True)
    escalated_at = UtcDateTime(dump_only=True, allow_none=True)
