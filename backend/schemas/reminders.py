import marshmallow as ma

from backend.models.reminders import REMINDER_STATUSES
from backend.schemas.fields import Date, UtcDateTime

PUBLIC_STATUSES = tuple(status for status in REMINDER_STATUSES if status != "sending")


def public_status(reminder) -> str:
    """`sending` is internal (the provider has the message right now): the contract says `queued`."""
    return "queued" if reminder.status == "sending" else reminder.status


class PatientReminderSchema(ma.Schema):
    """A reminder as the patient sees it (contract: id, event_id, channel, send_at, status)."""

    id = ma.fields.String(dump_only=True)
    event_id = ma.fields.String(dump_only=True)
    channel = ma.fields.String(dump_only=True, metadata={"description": "push | sms | email | log (staff: staff)"})
    send_at = UtcDateTime(dump_only=True)
    status = ma.fields.Function(public_status, dump_only=True,
                                metadata={"description": " | ".join(PUBLIC_STATUSES)})
    rule = ma.fields.String(dump_only=True, metadata={"description": "e.g. dose.evening_before, survey.nudge"})
    sent_at = UtcDateTime(dump_only=True, allow_none=True)
    delivered_at = UtcDateTime(dump_only=True, allow_none=True)


class StaffReminderSchema(PatientReminderSchema):
    """What staff see besides: the audience, tries, the last error."""

    patient_id = ma.fields.String(dump_only=True)
    audience = ma.fields.String(dump_only=True, metadata={"description": "patient | staff (a task for the site)"})
    attempts = ma.fields.Integer(dump_only=True)
    last_error = ma.fields.String(dump_only=True, allow_none=True)
    target_date = Date(dump_only=True)
    timezone = ma.fields.String(dump_only=True)
    updated_at = UtcDateTime(dump_only=True)


class SiteReminderSchema(StaffReminderSchema):
    subject_id = ma.fields.Function(lambda reminder: reminder.patient.subject_id, dump_only=True)


class ReminderListArgsSchema(ma.Schema):
    status = ma.fields.String(load_default=None, validate=ma.validate.OneOf(PUBLIC_STATUSES))


class ReceiptSchema(ma.Schema):
    received_at = UtcDateTime(load_default=None, metadata={"description": "when the device showed it (default: now)"})
