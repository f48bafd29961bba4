"""The study compliance report on the wire (staff)."""
import marshmallow as ma

from backend.schemas.fields import Date


class ComplianceQuerySchema(ma.Schema):
    as_of = Date(load_default=None, metadata={"description": "Evaluation date; default today at each site"})


class AssessmentCountsSchema(ma.Schema):
    done = ma.fields.Integer(dump_only=True)
    late = ma.fields.Integer(dump_only=True)
    early = ma.fields.Integer(dump_only=True)
    missed = ma.fields.Integer(dump_only=True)
    ne_only = ma.fields.Integer(dump_only=True)
    open = ma.fields.Integer(dump_only=True)
    upcoming = ma.fields.Integer(dump_only=True)
    due = ma.fields.Integer(dump_only=True, metadata={"description": "done + late + early + missed + ne_only"})


class DosingCountsSchema(ma.Schema):
    on_time = ma.fields.Integer(dump_only=True)
    delayed = ma.fields.Integer(dump_only=True)
    early = ma.fields.Integer(dump_only=True)
    held = ma.fields.Integer(dump_only=True)
    missed = ma.fields.Integer(dump_only=True)


class SurveyCountsSchema(ma.Schema):
    completed = ma.fields.Integer(dump_only=True)
    expected = ma.fields.Integer(dump_only=True)
    rate = ma.fields.Float(dump_only=True, allow_none=True, metadata={"description": "completed / expected"})


class SiteComplianceSchema(ma.Schema):
    site = ma.fields.String(dump_only=True, allow_none=True)
    as_of = Date(dump_only=True, allow_none=True)
    patients = ma.fields.Integer(dump_only=True)
    assessments = ma.fields.Nested(AssessmentCountsSchema, dump_only=True)
    dosing = ma.fields.Nested(DosingCountsSchema, dump_only=True)
    surveys = ma.fields.Nested(SurveyCountsSchema, dump_only=True)


class ComplianceSchema(ma.Schema):
    study = ma.fields.String(dump_only=True)
    as_of = Date(dump_only=True, allow_none=True)
    sites = ma.fields.List(ma.fields.Nested(SiteComplianceSchema), dump_only=True)
    total = ma.fields.Nested(SiteComplianceSchema, dump_only=True)
