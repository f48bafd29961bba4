import re

import marshmallow as ma

from backend.schemas.fields import Date, UtcDateTime, no_nul

RECORDABLE_STATUSES = ("completed", "missed", "held")
EVENT_KINDS = ("dose", "dosing_diary", "tumor_assessment", "symptom_survey")
_HH_MM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


class CalendarQuerySchema(ma.Schema):
    from_ = Date(data_key="from", attribute="from", load_default=None,
                           metadata={"description": "First target date (inclusive)"})
    to = Date(load_default=None, metadata={"description": "Last target date (inclusive)"})
    updated_since = UtcDateTime(load_default=None, metadata={
        "description": "Offline sync: only events changed at or after this instant, cancelled ones included; "
                       "pass the previous answer's as_of"})
    kind = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(EVENT_KINDS)), load_default=None,
                          validate=ma.validate.Length(min=1, max=len(EVENT_KINDS)), metadata={
                              "description": "Keep only these kinds (repeatable: ?kind=dose&kind=tumor_assessment)"})

    @ma.validates_schema
    def _ordered(self, data, **kwargs) -> None:
        if data.get("from") and data.get("to") and data["from"] > data["to"]:
            raise ma.ValidationError("`to` is before `from`.", "to")


class AgentDoseSchema(ma.Schema):
    name = ma.fields.String(dump_only=True)
    dose = ma.fields.Raw(dump_only=True, metadata={"description": "A number"})
    unit = ma.fields.String(dump_only=True)


class AppointmentSchema(ma.Schema):
    """A booked clinic visit: the wall-clock time in the site's zone, and where."""

    time = ma.fields.String(required=True, validate=ma.validate.Regexp(_HH_MM, error="Use HH:MM (24-hour)."),
                            metadata={"description": "HH:MM, in the site's time zone", "example": "09:30"})
    location = ma.fields.String(load_default=None, allow_none=True,
                                validate=[ma.validate.Length(min=1, max=200), no_nul],
                                metadata={"example": "Imaging, 2nd floor"})


class PatientEventSchema(ma.Schema):
    """An event as the patient's app sees it: no internal notes."""

    id = ma.fields.String(dump_only=True)
    kind = ma.fields.String(dump_only=True, metadata={
        "description": "dose | dosing_diary | tumor_assessment | symptom_survey"})
    cycle = ma.fields.Integer(dump_only=True, allow_none=True)
    day = ma.fields.Integer(dump_only=True, allow_none=True)
    label = ma.fields.String(dump_only=True)
    agents = ma.fields.List(ma.fields.Nested(AgentDoseSchema), dump_only=True)
    protocol_date = Date(dump_only=True)
    target_date = Date(dump_only=True)
    window_start = Date(dump_only=True)
    window_end = Date(dump_only=True)
    status = ma.fields.String(dump_only=True, metadata={"description": "planned | completed | missed | held | cancelled"})
    state = ma.fields.String(dump_only=True, metadata={
        "description": "Derived from status, window and the site's today: upcoming | due | overdue | completed | "
                       "missed | held | cancelled"})
    days_overdue = ma.fields.Integer(dump_only=True, allow_none=True, metadata={
        "description": "Overdue only: the site's today − window_end"})
    actual_date = Date(dump_only=True, allow_none=True)
    version = ma.fields.Integer(dump_only=True, metadata={"description": "Send it back as If-Match when recording"})
    flags = ma.fields.List(ma.fields.String(), dump_only=True, metadata={
        "description": "loading, reload, rescheduled, clinic_closed, outside_window"})
    appointment = ma.fields.Nested(AppointmentSchema, dump_only=True, allow_none=True, metadata={
        "description": "null, or the booked time (site's zone) and location of a clinic visit"})
    updated_at = UtcDateTime(dump_only=True)


class EventSchema(PatientEventSchema):
    """An event as site staff see it, with the natural key and the reason of the last change."""

    key = ma.fields.String(dump_only=True, metadata={"description": "dose:C2D1, diary:2026-01-05, assessment:3, survey:4"})
    reason = ma.fields.String(dump_only=True, allow_none=True)


class PatientCalendarSchema(ma.Schema):
    patient_id = ma.fields.String(dump_only=True)
    as_of = UtcDateTime(dump_only=True, metadata={"description": "Pass it back as updated_since"})
    events = ma.fields.List(ma.fields.Nested(PatientEventSchema), dump_only=True)


class CalendarSchema(PatientCalendarSchema):
    events = ma.fields.List(ma.fields.Nested(EventSchema), dump_only=True)


class EventPatchQuerySchema(ma.Schema):
    changed_only = ma.fields.Boolean(load_default=False, metadata={
        "description": "Answer with only the events this change created, updated or cancelled (same shape, "
                       "`events` holds just those) instead of the whole calendar"})


class EventRecordSchema(ma.Schema):
    """Either an outcome (`status`, `actual_date`, `reason`), a reschedule (`target_date`,
    `reason`, `force`, `keep_appointment`), or a booking (`appointment`, `reason`)."""

    status = ma.fields.String(validate=ma.validate.OneOf(RECORDABLE_STATUSES))
    actual_date = Date(allow_none=True, metadata={"description": "Required for completed; none for missed"})
    reason = ma.fields.String(allow_none=True, validate=ma.validate.Length(min=1, max=2000))
    target_date = Date(metadata={"description": "Reschedule a planned clinic visit to this day"})
    force = ma.fields.Boolean(load_default=False, metadata={
        "description": "Reschedule outside the visit window (the reason says why)"})
    keep_appointment = ma.fields.Boolean(metadata={
        "description": "On a reschedule: keep the booked time and location on the new day (default) or "
                       "clear them (false)"})
    appointment = ma.fields.Nested(AppointmentSchema, allow_none=True, metadata={
        "description": "Book a clinic visit's time (site's zone) and location; null clears the booking"})

    @ma.validates_schema
    def _one_change(self, data, **kwargs) -> None:
        if "appointment" in data:
            extra = sorted(set(data) - {"appointment", "reason", "force"})
            if extra or data.get("force"):
                raise ma.ValidationError("A booking takes only `appointment` and `reason`.", extra[0] if extra else "force")
            return
        if "keep_appointment" in data and data.get("target_date") is None:
            raise ma.ValidationError("keep_appointment applies to a reschedule only.", "keep_appointment")
        status, target = data.get("status"), data.get("target_date")
        if (status is None) == (target is None):
            raise ma.ValidationError("Send either a status or a target_date.", "status" if target is None else "target_date")
        if target is not None:
            if not data.get("reason"):
                raise ma.ValidationError("A reschedule needs a reason.", "reason")
            if data.get("actual_date") is not None:
                raise ma.ValidationError("A reschedule has no actual date.", "actual_date")
            return
        if data.get("force"):
            raise ma.ValidationError("force applies to a reschedule only.", "force")
        if status == "completed" and data.get("actual_date") is None:
            raise ma.ValidationError("A completed visit needs its actual date.", "actual_date")
        if status == "missed" and data.get("actual_date") is not None:
            raise ma.ValidationError("A missed visit has no actual date.", "actual_date")


class CalendarFeedSchema(ma.Schema):
    url = ma.fields.String(dump_only=True, metadata={"description": "Subscribe to it from a phone's calendar app"})
    token = ma.fields.String(dump_only=True, metadata={"description": "The secret in the URL; shown once"})
