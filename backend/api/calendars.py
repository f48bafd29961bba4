"""Calendars: the patient's events as JSON (with ETags for offline sync) and as iCalendar feeds.

Offline sync: `GET /patients/{id}/calendar` answers with an `ETag` and `as_of`; send the ETag
back in `If-None-Match` (304 when nothing changed) and `as_of` as `updated_since` to receive only
the events changed since, cancelled ones included.

Phone calendars cannot send a bearer token, so a patient (or staff in scope) issues a secret
subscription URL with `POST /patients/{id}/calendar-feed`; `GET /calendar-feeds/{token}.ics`
then answers without Authorization. Re-issuing replaces the secret, `DELETE` revokes it; an
unknown or revoked secret answers 401 `invalid_feed_token`. Only a hash of the secret is stored.
"""
from flask import Response, current_app, request, url_for
from flask.views import MethodView

from backend.api.base import Blueprint
from backend.api.docs import errors
from backend.auth import STAFF_ROLES, Principal, current_principal, require_roles, signed_in_row, visible_patient
from backend.schemas.calendars import (
    CalendarFeedSchema,
    CalendarQuerySchema,
    CalendarSchema,
    EventPatchQuerySchema,
    EventRecordSchema,
)
from backend.services import appointments as appointments_service
from backend.services import calendar_reads
from backend.services import calendars as calendars_service

blp = Blueprint("calendars", __name__, description="Patients' calendars: dosing, tumour assessments, surveys")

ICS_DOC = {"responses": {"200": {"description": "iCalendar (RFC 5545)",
                                 "content": {"text/calendar": {"schema": {"type": "string"}}}}}}
IF_NONE_MATCH = {"in": "header", "name": "If-None-Match", "schema": {"type": "string"}, "required": False,
                 "description": "The ETag of the copy the client holds: 304 when it is current"}
IF_MATCH = {"in": "header", "name": "If-Match", "schema": {"type": "string"}, "required": False,
            "description": "The event's version (3, \"3\" or W/\"3\"): 409 stale_version when it changed"}


CALENDAR_READERS = (*STAFF_ROLES, "patient")  # also backend.api.calendar_fast_path's


def _audience(principal: Principal) -> str:
    return "patient" if principal.role == "patient" else "staff"


def _calendar_response(principal: Principal, patient_id, query, if_none_match, head_row=None) -> Response:
    """The calendar in the caller's audience shape (backend.services.calendar_reads dumps exactly what
    CalendarSchema / PatientCalendarSchema describe), with its ETag; 304 when the client's is current."""
    body, etag = calendar_reads.conditional_calendar(principal, patient_id, _audience(principal), query, if_none_match,
                                                     head_row)
    response = Response(status=304) if body is None else Response(body, mimetype="application/json")
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = "private, no-cache"
    return response


def _ics_response(patient) -> Response:
    response = Response(calendars_service.render_ics(patient), mimetype="text/calendar")
    response.headers["Content-Disposition"] = 'inline; filename="calendar.ics"'
    response.headers["Cache-Control"] = "private, no-cache"
    return response


@blp.route("/patients/<id>/calendar", parameters=[IF_NONE_MATCH])
class PatientCalendar(MethodView):
    @require_roles(*CALENDAR_READERS, read=calendar_reads.SIGNED_IN_HEAD)
    @blp.arguments(CalendarQuerySchema(), location="query")  # an instance: not built anew per request
    @blp.response(200, CalendarSchema, description="The calendar (patients get it without staff notes)")
    @blp.alt_response(304, description="Not modified: the If-None-Match ETag is current")
    @errors(blp, 401, 403, 404)
    def get(self, query, id):
        """The patient's events sorted by target date; `kind` (repeatable), `updated_since` for offline sync, ETag

        JSON answers are compressed (gzip, or br) when the client sends Accept-Encoding. A current
        If-None-Match answers 304 from one indexed read (the patient's calendar version).
        """
        return _calendar_response(current_principal(), id, query, request.headers.get("If-None-Match"),
                                  signed_in_row())


@blp.route("/patients/<id>/events/<event_id>", parameters=[IF_MATCH])
class PatientEvent(MethodView):
    @require_roles(*STAFF_ROLES, "patient")
    @blp.arguments(EventPatchQuerySchema, location="query")
    @blp.arguments(EventRecordSchema)
    @blp.response(200, CalendarSchema, description="The updated calendar (with `changed_only`: the events changed)")
    @blp.doc(parameters=[IF_MATCH])
    @errors(blp, 401, 403, 404, 409)
    def patch(self, query, data, id, event_id):
        """Record a visit (completed, missed, held), reschedule or book a planned one; the future is re-planned

        `{"status", "actual_date"?, "reason"?}`: completed needs the actual date (not in the
        future, not before the previous recorded visit of the same schedule); missed takes none;
        changing an already recorded outcome needs a reason. `{"target_date", "reason",
        "force"?, "keep_appointment"?}` reschedules a planned dose visit or tumour assessment within
        its window; outside it 422 `outside_window` unless `"force": true`; the booking moves with it
        unless `"keep_appointment": false`. `{"appointment": {"time": "09:30", "location"} | null,
        "reason"?}` books (or clears) a planned clinic visit's time in the site's zone (staff only).
        Patients record their own dosing-diary entries only (completed or missed): anything else
        is 403 `patient_cannot_record`. `If-Match` (the event's version; 3, "3" or W/"3") is
        optional: stale answers 409 `stale_version`. Everything is audited with the reason.
        `?changed_only=true` answers with just the events this change touched.
        """
        principal = current_principal()
        patient = visible_patient(principal, id)
        if_match = request.headers.get("If-Match")
        if "appointment" in data:
            changed = appointments_service.book_appointment(principal, patient, event_id, data["appointment"],
                                                            data.get("reason"), if_match)
        else:
            changed = calendars_service.record_event(principal, patient, event_id, data, if_match)
        if query["changed_only"]:
            return current_app.json.response(
                calendar_reads.changed_events(principal, patient.id, _audience(principal), changed))
        return _calendar_response(principal, patient.id, {}, None)


@blp.route("/patients/<id>/calendar.ics")
class PatientCalendarIcs(MethodView):
    @require_roles(*STAFF_ROLES, "patient")
    @blp.doc(**ICS_DOC)
    @errors(blp, 401, 403, 404)
    def get(self, id):
        """The calendar as iCalendar: neutral summaries, no diagnosis or drug names"""
        return _ics_response(visible_patient(current_principal(), id))


@blp.route("/patients/<id>/calendar-feed")
class PatientCalendarFeed(MethodView):
    @require_roles(*STAFF_ROLES, "patient")
    @blp.response(201, CalendarFeedSchema)
    @errors(blp, 401, 403, 404)
    def post(self, id):
        """Issue (or re-issue) the secret subscription URL for phone calendars; the old URL stops working

        The answer is the only time the secret is shown (the server keeps its SHA-256).
        """
        token = calendars_service.issue_calendar_feed(visible_patient(current_principal(), id))
        return {"token": token, "url": url_for("calendars.CalendarFeed", token=token, _external=True)}

    @require_roles(*STAFF_ROLES, "patient")
    @blp.response(204)
    @errors(blp, 401, 403, 404)
    def delete(self, id):
        """Revoke the subscription URL"""
        calendars_service.revoke_calendar_feed(visible_patient(current_principal(), id))


@blp.route("/calendar-feeds/<token>.ics")
class CalendarFeed(MethodView):
    @blp.doc(security=[], **ICS_DOC)
    @errors(blp, 401)
    def get(self, token):
        """A patient's calendar by its secret URL, for phone calendar apps that cannot send a bearer token

        No Authorization header: the secret in the URL (from POST /patients/{id}/calendar-feed) is
        the credential. Unknown or revoked secrets answer 401 `invalid_feed_token`. Neutral
        summaries only (Clinic visit, Scan appointment, Symptom survey); cancelled events stay
        in the feed as STATUS:CANCELLED so subscribed phones remove them.
        """
        return _ics_response(calendars_service.patient_for_feed(token))
