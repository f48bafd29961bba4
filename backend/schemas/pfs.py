"""Progression-free survival on the wire (CONTRACT.md "Tumour assessments, outcomes and PFS")."""
import marshmallow as ma

from backend.schemas.fields import Date

VISIT_STATUSES = ("done", "late", "early", "missed", "ne_only", "open", "upcoming")


class PfsQuerySchema(ma.Schema):
    as_of = Date(load_default=None, metadata={"description": "Evaluation date; default today at the site"})


class PfsVisitSchema(ma.Schema):
    number = ma.fields.Integer(dump_only=True)
    event_id = ma.fields.String(dump_only=True, allow_none=True, metadata={
        "description": "The calendar's tumour-assessment event (null beyond the planning horizon)"})
    protocol_date = Date(dump_only=True, metadata={
        "description": "Where the imaging clock puts the visit; the window is around it"})
    target_date = Date(dump_only=True, metadata={
        "description": "The day the calendar plans it for (after clinic closures and rescheduling)"})
    window_start = Date(dump_only=True)
    window_end = Date(dump_only=True)
    status = ma.fields.String(dump_only=True, metadata={"description": " | ".join(VISIT_STATUSES)})


class PfsSchema(ma.Schema):
    patient_id = ma.fields.String(dump_only=True)
    subject_id = ma.fields.String(dump_only=True)
    as_of = Date(dump_only=True)
    status = ma.fields.String(dump_only=True, metadata={"description": "event | censored"})
    date = Date(dump_only=True)
    days = ma.fields.Integer(dump_only=True, metadata={"description": "date - first_dose_date + 1"})
    cnsr = ma.fields.Integer(dump_only=True)
    reason = ma.fields.String(dump_only=True, metadata={
        "description": "progression | death | ongoing | no_baseline | new_anticancer_therapy | "
                       "missed_assessments | follow_up_ended"})
    last_adequate_assessment = Date(dump_only=True, allow_none=True)
    consecutive_missed = ma.fields.Integer(dump_only=True)
    at_risk = ma.fields.Boolean(dump_only=True)
    protect_deadline = Date(dump_only=True, allow_none=True)
    visits = ma.fields.List(ma.fields.Nested(PfsVisitSchema), dump_only=True)
