"""A site's worklist on the wire (staff)."""
import marshmallow as ma

from backend.schemas.fields import Date


class WorklistQuerySchema(ma.Schema):
    date = Date(load_default=None, metadata={"description": "The day to plan for; default today at the site"})


class WorklistRowSchema(ma.Schema):
    priority = ma.fields.Integer(dump_only=True, metadata={"description": "1 = most urgent"})
    kind = ma.fields.String(dump_only=True, metadata={
        "description": "symptom_alert | pfs_at_risk | assessment_window_closing | visit_overdue | visit_due"})
    patient_id = ma.fields.String(dump_only=True)
    subject_id = ma.fields.String(dump_only=True)
    what = ma.fields.String(dump_only=True)
    due_date = Date(dump_only=True, allow_none=True)
    action = ma.fields.String(dump_only=True, metadata={"description": "What to do"})
