"""Study reconciliation findings on the wire (coordinators)."""
import marshmallow as ma

from backend.schemas.fields import Date


class ReconciliationQuerySchema(ma.Schema):
    as_of = Date(load_default=None, metadata={"description": "Evaluation date; default today at each site"})


class FindingSchema(ma.Schema):
    kind = ma.fields.String(dump_only=True, metadata={
        "description": "recorded_outside_window | not_recorded | rescheduled_outside_window | duplicate_same_day "
                       "| assessment_after_progression | baseline_too_early | calendar_drift"})
    site = ma.fields.String(dump_only=True)
    patient_id = ma.fields.String(dump_only=True)
    subject_id = ma.fields.String(dump_only=True)
    event_id = ma.fields.String(dump_only=True, allow_none=True)
    date = Date(dump_only=True, allow_none=True)
    detail = ma.fields.String(dump_only=True)
    state = ma.fields.String(dump_only=True, allow_none=True, metadata={
        "description": "The event's state on the evaluation date (as in the calendar); null for findings "
                       "about no single event"})
    days_overdue = ma.fields.Integer(dump_only=True, allow_none=True)


class ReconciliationSchema(ma.Schema):
    study = ma.fields.String(dump_only=True)
    as_of = Date(dump_only=True, allow_none=True)
    counts = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), dump_only=True)
    findings = ma.fields.List(ma.fields.Nested(FindingSchema), dump_only=True)
