"""Results on the wire (CONTRACT.md "Results"): response, efficacy and safety; their query arguments."""
from __future__ import annotations

import marshmallow as ma

from backend.schemas.fields import Date
from schedules.response import BEST_RESPONSES

_REGIMEN = [ma.validate.Length(min=1, max=40),
            ma.validate.Regexp(r"^[A-Za-z0-9_-]{1,40}$", error="A regimen code: letters, digits, - and _.")]


class CutoffQuerySchema(ma.Schema):
    cutoff = Date(load_default=None, metadata={"description": "Data cut-off; default today at each site"})


class ResultsQuerySchema(CutoffQuerySchema):
    regimen = ma.fields.String(load_default=None, validate=_REGIMEN,
                               metadata={"description": "Only the patients on this regimen (code)"})


class ExportCutoffQuerySchema(CutoffQuerySchema):
    as_of = Date(load_default=None, metadata={"description": "The older name of `cutoff`"})


class TimeToEventSchema(ma.Schema):
    status = ma.fields.String(dump_only=True, metadata={"description": "event | censored"})
    date = ma.fields.Date(dump_only=True)
    days = ma.fields.Integer(dump_only=True, metadata={"description": "date - start + 1"})
    cnsr = ma.fields.Integer(dump_only=True)
    reason = ma.fields.String(dump_only=True)


class ResponseSchema(ma.Schema):
    patient_id = ma.fields.String(dump_only=True)
    subject_id = ma.fields.String(dump_only=True)
    cutoff = ma.fields.Date(dump_only=True)
    regimen = ma.fields.String(dump_only=True)
    response_evaluable = ma.fields.Boolean(dump_only=True, metadata={"description": "A baseline scan and a first dose"})
    best_overall_response = ma.fields.String(dump_only=True, metadata={"description": " | ".join(BEST_RESPONSES)})
    confirmed = ma.fields.Boolean(dump_only=True)
    confirmed_by = ma.fields.List(ma.fields.Date(), dump_only=True,
                                  metadata={"description": "The two assessments that confirm CR or PR"})
    first_response_date = ma.fields.Date(dump_only=True, allow_none=True)
    confirmation_date = ma.fields.Date(dump_only=True, allow_none=True)
    clinical_benefit = ma.fields.Boolean(dump_only=True)
    dor = ma.fields.Nested(TimeToEventSchema, dump_only=True, allow_none=True)
    os = ma.fields.Nested(TimeToEventSchema, dump_only=True)


class RateSchema(ma.Schema):
    numerator = ma.fields.Integer(dump_only=True)
    denominator = ma.fields.Integer(dump_only=True)
    rate = ma.fields.Float(dump_only=True, allow_none=True)
    ci = ma.fields.List(ma.fields.Float(allow_none=True), dump_only=True,
                        metadata={"description": "Exact (Clopper-Pearson) 95% interval"})


class LandmarkSchema(ma.Schema):
    day = ma.fields.Integer(dump_only=True)
    rate = ma.fields.Float(dump_only=True)
    ci = ma.fields.List(ma.fields.Float(allow_none=True), dump_only=True)


class AtRiskSchema(ma.Schema):
    day = ma.fields.Integer(dump_only=True)
    n = ma.fields.Integer(dump_only=True)


class CurvePointSchema(ma.Schema):
    day = ma.fields.Integer(dump_only=True)
    survival = ma.fields.Float(dump_only=True)
    lower = ma.fields.Float(dump_only=True, allow_none=True)
    upper = ma.fields.Float(dump_only=True, allow_none=True)
    at_risk = ma.fields.Integer(dump_only=True)
    events = ma.fields.Integer(dump_only=True)
    censored = ma.fields.Integer(dump_only=True)


class PassThroughList(ma.fields.List):
    """A list the derivation already builds from JSON-ready numbers (`schedules.survival.summary`'s curve
    and numbers at risk): documented by its item schema, dumped as it is rather than point by point
    (a study of 1,000 patients has thousands of points per answer)."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else list(value)


class KaplanMeierSchema(ma.Schema):
    n = ma.fields.Integer(dump_only=True)
    events = ma.fields.Integer(dump_only=True)
    censored = ma.fields.Integer(dump_only=True)
    median = ma.fields.Integer(dump_only=True, allow_none=True)
    median_ci = ma.fields.List(ma.fields.Integer(allow_none=True), dump_only=True)
    rate_6m = ma.fields.Nested(LandmarkSchema, dump_only=True, allow_none=True)
    rate_12m = ma.fields.Nested(LandmarkSchema, dump_only=True, allow_none=True)
    at_risk = PassThroughList(ma.fields.Nested(AtRiskSchema), dump_only=True)
    curve = PassThroughList(ma.fields.Nested(CurvePointSchema), dump_only=True)


class KmSetSchema(ma.Schema):
    pfs = ma.fields.Nested(KaplanMeierSchema, dump_only=True)
    os = ma.fields.Nested(KaplanMeierSchema, dump_only=True)
    dor = ma.fields.Nested(KaplanMeierSchema, dump_only=True)


class EfficacyGroupSchema(ma.Schema):
    regimen = ma.fields.String(dump_only=True, allow_none=True)
    orr = ma.fields.Nested(RateSchema, dump_only=True)
    orr_dosed = ma.fields.Nested(RateSchema, dump_only=True)
    cbr = ma.fields.Nested(RateSchema, dump_only=True)
    km = ma.fields.Nested(KmSetSchema, dump_only=True)


class EfficacySchema(EfficacyGroupSchema):
    cutoff = ma.fields.Date(dump_only=True)
    by_regimen = ma.fields.List(ma.fields.Nested(EfficacyGroupSchema), dump_only=True)


class CellSchema(ma.Schema):
    n = ma.fields.Integer(dump_only=True)
    rate = ma.fields.Float(dump_only=True, allow_none=True, metadata={"description": "n / population"})


class TeaeRowSchema(ma.Schema):
    soc = ma.fields.String(dump_only=True)
    term = ma.fields.String(dump_only=True)
    any_grade = ma.fields.Nested(CellSchema, dump_only=True)
    grade_1 = ma.fields.Nested(CellSchema, dump_only=True)
    grade_2 = ma.fields.Nested(CellSchema, dump_only=True)
    grade_3 = ma.fields.Nested(CellSchema, dump_only=True)
    grade_4 = ma.fields.Nested(CellSchema, dump_only=True)
    grade_5 = ma.fields.Nested(CellSchema, dump_only=True)
    grade_3_plus = ma.fields.Nested(CellSchema, dump_only=True)
    serious = ma.fields.Nested(CellSchema, dump_only=True)
    dose_reduced = ma.fields.Nested(CellSchema, dump_only=True)
    drug_interrupted = ma.fields.Nested(CellSchema, dump_only=True)
    drug_withdrawn = ma.fields.Nested(CellSchema, dump_only=True)


class ProRowSchema(ma.Schema):
    term = ma.fields.String(dump_only=True)
    grade_1_plus = ma.fields.Nested(CellSchema, dump_only=True)
    grade_3_plus = ma.fields.Nested(CellSchema, dump_only=True)


class ProTableSchema(ma.Schema):
    patients = ma.fields.Integer(dump_only=True, metadata={"description": "Patients with a post-baseline report"})
    terms = ma.fields.List(ma.fields.Nested(ProRowSchema), dump_only=True)


class SafetyGroupSchema(ma.Schema):
    regimen = ma.fields.String(dump_only=True, allow_none=True)
    population = ma.fields.Integer(dump_only=True, metadata={"description": "Patients dosed by the cut-off"})
    teae = ma.fields.List(ma.fields.Nested(TeaeRowSchema), dump_only=True)
    pro_ctcae = ma.fields.Nested(ProTableSchema, dump_only=True)


class SafetySchema(SafetyGroupSchema):
    cutoff = ma.fields.Date(dump_only=True)
    by_regimen = ma.fields.List(ma.fields.Nested(SafetyGroupSchema), dump_only=True)
