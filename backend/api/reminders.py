from flask import jsonify
from flask.views import MethodView

from backend.api.base import Blueprint, paginate_select
from backend.api.docs import errors
from backend.auth import STAFF_ROLES, current_principal, require_roles
from backend.extensions import db
from backend.schemas.reminders import (
    PatientReminderSchema,
    ReceiptSchema,
    ReminderListArgsSchema,
    SiteReminderSchema,
    StaffReminderSchema,
)
from backend.services import reminders as reminders_service

blp = Blueprint("reminders", __name__, description="Reminders to patients and their delivery")


@blp.route("/patients/<id>/reminders")
class PatientReminders(MethodView):
    @require_roles(*STAFF_ROLES, "patient")
    @blp.arguments(ReminderListArgsSchema, location="query")
    @blp.response(200, StaffReminderSchema(many=True))
    @errors(blp, 401, 403, 404)
    def get(self, args, id):
        """A patient's reminders by send time (the patient: their own; staff: also the site's tasks)"""
        principal = current_principal()
        reminders = reminders_service.list_patient_reminders(principal, id, args["status"])
        # The patient's own view leaves out the staff fields (documented: the staff superset).
        return jsonify(PatientReminderSchema(many=True).dump(reminders)) if principal.role == "patient" else reminders


@blp.route("/sites/<code>/reminders")
class SiteReminders(MethodView):
    @require_roles(*STAFF_ROLES)
    @blp.arguments(ReminderListArgsSchema, location="query")
    @blp.response(200, SiteReminderSchema(many=True))
    @blp.paginate()
    @errors(blp, 401, 403, 404)
    def get(self, args, code, pagination_parameters):
        """Reminders of a site's patients, newest first; `?status=failed` is the staff's follow-up list"""
        stmt = reminders_service.site_reminders_query(current_principal(), code, args["status"])
        return paginate_select(db.session, stmt, pagination_parameters)


@blp.route("/me/reminders/<reminder_id>/receipt")
class ReminderReceipt(MethodView):
    @require_roles("patient")
    @blp.arguments(ReceiptSchema)
    @blp.response(200, PatientReminderSchema)
    @errors(blp, 401, 403, 404, 409)
    def post(self, data, reminder_id):
        """The patient's device confirms it showed the reminder (sent → delivered)"""
        return reminders_service.record_receipt(current_principal(), reminder_id, data["received_at"])
