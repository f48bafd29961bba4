"""Clinician-graded adverse events on the wire."""
from __future__ import annotations

import marshmallow as ma

from backend.models.adverse_events import AE_ACTIONS
from backend.schemas.fields import Date, UtcDateTime


class AdverseEventCreateSchema(ma.Schema):
    ctcae_term = ma.fields.String(load_default=None, validate=ma.validate.Length(min=1, max=200), metadata={
        "description": "CTCAE v5.0 term name (or give meddra_code)", "example": "Alopecia"})
    meddra_code = ma.fields.String(load_default=None, validate=ma.validate.Length(min=1, max=10), metadata={
        "description": "MedDRA LLT code of the CTCAE v5.0 term", "example": "10001760"})
    grade = ma.fields.Integer(required=True, strict=True, metadata={
        "description": "A grade CTCAE v5.0 defines for the term (1..5)"})
    onset_date = Date(required=True)
    resolved_date = Date(load_default=None, allow_none=True)
    serious = ma.fields.Boolean(required=True)
    related = ma.fields.Boolean(required=True, metadata={
        "description": "Related to study treatment, in the investigator's judgement"})
    action_taken = ma.fields.String(required=True, validate=ma.validate.OneOf(AE_ACTIONS), metadata={
        "description": "Action taken with study treatment (CDISC AEACN)"})
    source_report_id = ma.fields.UUID(load_default=None, allow_none=True, metadata={
        "description": "The symptom report that prompted this adverse event"})

    @ma.validates_schema
    def _a_term(self, data, **kwargs):
        if not data.get("ctcae_term") and not data.get("meddra_code"):
            raise ma.ValidationError("Give ctcae_term or meddra_code.", "ctcae_term")


class AdverseEventSchema(ma.Schema):
    id = ma.fields.String(dump_only=True)
    patient_id = ma.fields.String(dump_only=True)
    subject_id = ma.fields.Function(lambda ae: ae.patient.subject_id, dump_only=True)
    site = ma.fields.Function(lambda ae: ae.site.code, dump_only=True)
    ctcae_term = ma.fields.String(dump_only=True)
    meddra_code = ma.fields.String(dump_only=True)
    soc = ma.fields.String(dump_only=True)
    grade = ma.fields.Integer(dump_only=True)
    onset_date = Date(dump_only=True)
    resolved_date = Date(dump_only=True, allow_none=True)
    serious = ma.fields.Boolean(dump_only=True)
    related = ma.fields.Boolean(dump_only=True)
    action_taken = ma.fields.String(dump_only=True)
    source_report_id = ma.fields.String(dump_only=True, allow_none=True)
    recorded_by_id = ma.fields.String(dump_only=True, allow_none=True)
    created_at = UtcDateTime(dump_only=True)
