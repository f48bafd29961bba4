import marshmallow as ma

from backend.models.patients import LOCALES, PATIENT_STATUSES
from backend.schemas.fields import Date, UtcDateTime
from backend.schemas.studies import validate_timezone

_CODE = ma.validate.Regexp(r"^[A-Za-z0-9_.-]+$")


class PatientAccountSchema(ma.Schema):
    username = ma.fields.String(required=True, validate=[ma.validate.Length(min=3, max=80),
                                                          ma.validate.Regexp(r"^[A-Za-z0-9_.@-]+$")])
    password = ma.fields.String(required=True, load_only=True, validate=ma.validate.Length(min=12, max=1024),
                                metadata={"description": "At least 12 characters; not the username; not a common password"})


class PatientCreateSchema(ma.Schema):
    study = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40), metadata={"description": "Study code"})
    site = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40), metadata={"description": "Site code (a site of the study)"})
    subject_id = ma.fields.String(required=True, validate=[ma.validate.Length(min=1, max=40), _CODE])
    regimen = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40), metadata={"description": "Regimen code, see GET /regimens"})
    first_dose_date = Date(required=True, metadata={"description": "Cycle 1 day 1; anchors every clock"})
    timezone = ma.fields.String(load_default=None, allow_none=True, validate=[ma.validate.Length(min=1, max=64), validate_timezone],
                                metadata={"description": "IANA zone when it differs from the site's"})
    locale = ma.fields.String(load_default="en", validate=ma.validate.OneOf(LOCALES))
    account = ma.fields.Nested(PatientAccountSchema, load_default=None, allow_none=True,
                               metadata={"description": "Creates the patient's app sign-in"})
    phone = ma.fields.String(load_default=None, allow_none=True, validate=[ma.validate.Length(max=16), ma.validate.Regexp(r"^\+[1-9][0-9]{6,14}$")],
                             metadata={"description": "E.164, for SMS reminders when the app is not installed"})
    email = ma.fields.Email(load_default=None, allow_none=True, validate=ma.validate.Length(max=254), metadata={"description": "For e-mail reminders"})
    force = ma.fields.Boolean(load_default=False, metadata={
        "description": "Accept a future first dose on a day the clinic is closed (otherwise 422 closed_day)"})


class PatientUpdateSchema(ma.Schema):
    """What may change after enrolment: where the patient is, their language, how to reach them."""

    timezone = ma.fields.String(allow_none=True, validate=[ma.validate.Length(min=1, max=64), validate_timezone],
                                metadata={"description": "IANA zone; null follows the site's zone again"})
    locale = ma.fields.String(validate=ma.validate.OneOf(LOCALES))
    phone = ma.fields.String(allow_none=True, validate=[ma.validate.Length(max=16), ma.validate.Regexp(r"^\+[1-9][0-9]{6,14}$")])
    email = ma.fields.Email(allow_none=True, validate=ma.validate.Length(max=254))
    reason = ma.fields.String(validate=ma.validate.Length(min=1, max=2000), metadata={"description": "Why (audited)"})

    @ma.validates_schema
    def _something(self, data, **kwargs):
        if not set(data) - {"reason"}:
            raise ma.ValidationError("Give at least one of timezone, locale, phone, email.", "_schema")


class PatientQuerySchema(ma.Schema):
    site = ma.fields.String(load_default=None, validate=ma.validate.Length(min=1, max=40), metadata={"description": "Site code"})
    status = ma.fields.String(load_default=None, validate=ma.validate.OneOf(PATIENT_STATUSES))
    study = ma.fields.String(load_default=None, validate=ma.validate.Length(min=1, max=40), metadata={"description": "Study code"})
    subject_id = ma.fields.String(load_default=None, validate=ma.validate.Length(min=1, max=40))


class TimezoneChangeSchema(ma.Schema):
    old_timezone = ma.fields.String(dump_only=True, allow_none=True)
    new_timezone = ma.fields.String(dump_only=True, allow_none=True)
    changed_at = UtcDateTime(dump_only=True)
    reason = ma.fields.String(dump_only=True, allow_none=True)


class PatientSchema(ma.Schema):
    id = ma.fields.String(dump_only=True)
    subject_id = ma.fields.String(dump_only=True)
    study = ma.fields.Function(lambda p: p.study.code, dump_only=True)
    site = ma.fields.Function(lambda p: p.site.code, dump_only=True)
    regimen = ma.fields.String(dump_only=True)
    first_dose_date = Date(dump_only=True)
    status = ma.fields.String(dump_only=True)
    timezone = ma.fields.String(dump_only=True, allow_none=True)
    effective_timezone = ma.fields.String(dump_only=True, metadata={"description": "The patient's zone, else the site's"})
    locale = ma.fields.String(dump_only=True)
    discontinued_on = Date(dump_only=True, allow_none=True)
    follow_up_end = Date(dump_only=True, allow_none=True)
    user_id = ma.fields.String(dump_only=True, allow_none=True, metadata={"description": "The app account, if any"})
    calendar_feed = ma.fields.Function(lambda p: p.calendar_feed_hash is not None, dump_only=True,
                                       metadata={"description": "Whether a calendar-subscription URL is active"})
    created_at = UtcDateTime(dump_only=True)
    updated_at = UtcDateTime(dump_only=True)


class DiscontinueSchema(ma.Schema):
    date = Date(required=True, metadata={"description": "First day without treatment"})
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=2000))
