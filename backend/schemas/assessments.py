"""Tumour assessments and patient outcomes on the wire (staff audience)."""
import marshmallow as ma

from backend.models.assessments import OUTCOME_TYPES, OVERALL_RESPONSES
from backend.schemas.fields import Date, UtcDateTime


class AssessmentCreateSchema(ma.Schema):
    date = Date(required=True, metadata={"description": "Date of the assessment (site-local)"})
    overall_response = ma.fields.String(
        load_default=None, allow_none=True, validate=ma.validate.OneOf(OVERALL_RESPONSES),
        metadata={"description": "RECIST 1.1 overall response; absent for the baseline"})
    baseline = ma.fields.Boolean(load_default=False, metadata={"description": "true for the baseline scan"})
    new_lesion_date = Date(load_default=None, allow_none=True,
                                     metadata={"description": "First observation of a new lesion (PD only)"})
    scan_dates = ma.fields.List(Date(), load_default=list, validate=ma.validate.Length(max=30),
                                metadata={"description": "Dates of the scans the response is based on"})


class AssessmentSchema(ma.Schema):
    id = ma.fields.String(dump_only=True)
    patient_id = ma.fields.String(dump_only=True)
    date = Date(dump_only=True)
    overall_response = ma.fields.String(dump_only=True, allow_none=True)
    baseline = ma.fields.Boolean(dump_only=True)
    new_lesion_date = Date(dump_only=True, allow_none=True)
    scan_dates = ma.fields.List(ma.fields.String(), dump_only=True)
    recorded_by = ma.fields.String(dump_only=True, allow_none=True)
    created_at = UtcDateTime(dump_only=True)


class OutcomeCreateSchema(ma.Schema):
    type = ma.fields.String(required=True, validate=ma.validate.OneOf(OUTCOME_TYPES))
    date = Date(required=True)
    reason = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(max=2000))


class OutcomeSchema(ma.Schema):
    id = ma.fields.String(dump_only=True)
    patient_id = ma.fields.String(dump_only=True)
    type = ma.fields.String(dump_only=True)
    date = Date(dump_only=True)
    reason = ma.fields.String(dump_only=True, allow_none=True)
    recorded_by = ma.fields.String(dump_only=True, allow_none=True)
    created_at = UtcDateTime(dump_only=True)
