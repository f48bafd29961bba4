"""A site's worklist on the wire (staff)."""
import marshmallow as ma

from backend.schemas.fields import Date


class WorklistQuerySchema(ma.Schema):
    date = Date(load_default=None, metadata={"description": "The day to plan for; default today at the site"})


class WorklistRowSchema(ma.Schema):
    priority = ma.fields.Integer(dump_only=True, metadata={"description": "1 = most urgent"})
    kind = ma.fields.String(dump_only=True, metadata={
        "description": "symptom_alert | pfs_at_risk | visit_overdue | no_baseline | visit_due | survey_nonresponse"})
    patient_id = ma.fields.String(dump_only=True)
    subject_id = ma.fields.String(dump_only=True)
    event_id = ma.fields.String(dump_only=True, allow_none=True, metadata={
        "description": "The calendar event the row is about (null where none)"})
    alert_id = ma.fields.String(dump_only=True, allow_none=True, metadata={
        "description": "The symptom alert (symptom_alert rows only)"})
    days_overdue = ma.fields.Integer(dump_only=True, allow_none=True, metadata={
        "description": "Days since the window closed, where late (as the calendar's days_overdue)"})
    what = ma.fields.String(dump_only=True)
    due_date = Date(dump_only=True, allow_none=True)
    action = ma.fields.String(dump_only=True, metadata={"description": "What to do"})
