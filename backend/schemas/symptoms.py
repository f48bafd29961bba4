"""PRO-CTCAE item library and symptom reports on the wire (CONTRACT.md "Symptoms")."""
from __future__ import annotations

import dataclasses

import marshmallow as ma

from backend.schemas.alerts import AlertFindingSchema
from backend.schemas.fields import Date, UtcDateTime


class ItemsQuerySchema(ma.Schema):
    locale = ma.fields.String(load_default=None, validate=ma.validate.Length(min=1, max=35), metadata={
        "description": "Locale tag, e.g. `en` or `zh-CN`; a patient's own locale when left out, else `en`"})
    panel = ma.fields.String(load_default="all", validate=ma.validate.OneOf(("all", "study")), metadata={
        "description": "`study` (patients): only the items of the patient's study panel"})
    envelope = ma.fields.Boolean(load_default=False, metadata={
        "description": "`1`: answer `{locale, locale_fallback, items}` instead of the bare list"})


class ItemOptionSchema(ma.Schema):
    value = ma.fields.Integer(dump_only=True, allow_none=True,
                              metadata={"description": "Score 0..4 (presence items 1 = Yes, 0 = No); null records no score"})
    label = ma.fields.String(dump_only=True)


class SymptomItemSchema(ma.Schema):
    code = ma.fields.String(dump_only=True, metadata={"example": "PROCTCAE_17A_SCL"})
    term = ma.fields.String(dump_only=True, metadata={"description": "The symptom as the patient reads it"})
    attribute = ma.fields.String(dump_only=True, metadata={
        "description": "frequency | severity | interference | presence | amount"})
    question = ma.fields.String(dump_only=True)
    options = ma.fields.List(ma.fields.Nested(ItemOptionSchema), dump_only=True)
    allows_null = ma.fields.Boolean(dump_only=True, metadata={"description": "Whether null is an accepted answer"})
    locale = ma.fields.String(dump_only=True, metadata={"description": "The locale this item's texts are in"})

    @ma.pre_dump
    def _options_as_objects(self, item, **kwargs):
        fields = dataclasses.asdict(item)
        fields["options"] = [{"value": value, "label": label} for value, label in item.options]
        return fields


class SymptomItemLibrarySchema(ma.Schema):
    """The item library with its locale (answered for `?envelope=1`)."""

    locale = ma.fields.String(dump_only=True, metadata={"description": "The locale asked for"})
    locale_fallback = ma.fields.Boolean(dump_only=True, metadata={
        "description": "True when some items are in English because no official translation covers them"})
    items = ma.fields.List(ma.fields.Nested(SymptomItemSchema), dump_only=True)


class AnswerSchema(ma.Schema):
    item = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40), metadata={"example": "PROCTCAE_17A_SCL"})
    # Checked by the PRO-CTCAE answer rules, so that every problem names its item.
    value = ma.fields.Raw(required=True, allow_none=True, metadata={
        "type": "integer", "nullable": True, "minimum": 0, "maximum": 4,
        "description": "0..4 (presence items 0/1); null only where the item offers Not applicable / "
                       "Prefer not to answer"})


class SymptomReportCreateSchema(ma.Schema):
    client_report_id = ma.fields.UUID(required=True, metadata={
        "description": "The device's id for this report; re-sending it is a replay, not a new report"})
    completed_at = UtcDateTime(required=True)
    answers = ma.fields.List(ma.fields.Nested(AnswerSchema), required=True,
                             validate=ma.validate.Length(min=1, max=124))


class ReportSymptomSchema(ma.Schema):
    term_number = ma.fields.Integer(dump_only=True)
    term = ma.fields.String(dump_only=True)
    ctcae_term = ma.fields.String(dump_only=True)
    meddra_code = ma.fields.String(dump_only=True)
    composite_grade = ma.fields.Integer(dump_only=True, allow_none=True, metadata={
        "description": "PRO-CTCAE composite grade 0..3 (Basch 2021), not a CTCAE grade; null when not gradable"})
    answers = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(allow_none=True), dump_only=True,
                             metadata={"description": "Answers after branching (follow-ups of a 0 count as 0)"})


class ReportAlertSchema(ma.Schema):
    id = ma.fields.String(dump_only=True)
    rule = ma.fields.String(dump_only=True, metadata={"description": "composite_grade | severe_symptom | worsening"})
    term = ma.fields.String(dump_only=True)
    item_code = ma.fields.String(dump_only=True, allow_none=True)
    status = ma.fields.String(dump_only=True)
    detail = ma.fields.Dict(dump_only=True)
    symptoms = ma.fields.List(ma.fields.Nested(AlertFindingSchema), dump_only=True, metadata={
        "description": "Every symptom and rule that fired, the most serious first"})


class SymptomReportSchema(ma.Schema):
    id = ma.fields.String(dump_only=True)
    patient_id = ma.fields.String(dump_only=True)
    client_report_id = ma.fields.String(dump_only=True)
    completed_at = UtcDateTime(dump_only=True)
    local_date = Date(dump_only=True, metadata={"description": "completed_at's date in the patient's zone"})
    symptoms = ma.fields.List(ma.fields.Nested(ReportSymptomSchema), dump_only=True)
    alerts = ma.fields.List(ma.fields.Nested(ReportAlertSchema), dump_only=True)
    event_id = ma.fields.String(dump_only=True, allow_none=True, metadata={
        "description": "The symptom survey event this report completed"})
    unscheduled = ma.fields.Boolean(dump_only=True, metadata={"description": "True when outside every survey window"})
    entered_by_role = ma.fields.String(dump_only=True, metadata={"description": "patient, or the staff role entering it"})
    created_at = UtcDateTime(dump_only=True)
    message = ma.fields.String(dump_only=True, attribute="patient_message", metadata={
        "description": "On the answer to a submission that raised an alert: what to tell the patient "
                       "(contact the care team), in the patient's language"})
