from flask.views import MethodView

from backend.api.base import Blueprint, paginate_select
from backend.api.docs import errors
from backend.auth import STAFF_ROLES, current_principal, require_roles, visible_patient
from backend.extensions import db
from backend.schemas.patients import (
    DiscontinueSchema,
    PatientCreateSchema,
    PatientQuerySchema,
    PatientSchema,
    PatientUpdateSchema,
)
from backend.services import patients as patients_service

blp = Blueprint("patients", __name__, description="Enrolment, patient records and discontinuation")


@blp.route("/patients")
class Patients(MethodView):
    @require_roles(*STAFF_ROLES)
    @blp.arguments(PatientCreateSchema)
    @blp.response(201, PatientSchema)
    @errors(blp, 401, 403, 409)
    def post(self, data):
        """Enrol a patient and plan their calendar (admins; coordinators in their studies; nurses at their sites)"""
        return patients_service.enrol_patient(current_principal(), data)

    @require_roles(*STAFF_ROLES)
    @blp.arguments(PatientQuerySchema, location="query")
    @blp.response(200, PatientSchema(many=True))
    @blp.paginate()
    @errors(blp, 401, 403)
    def get(self, query, pagination_parameters):
        """The caller's patients, by site code and status"""
        stmt = patients_service.patients_query(current_principal(), query)
        return paginate_select(db.session, stmt, pagination_parameters)


@blp.route("/patients/<id>")
class PatientById(MethodView):
    @require_roles(*STAFF_ROLES, "patient")
    @blp.response(200, PatientSchema)
    @errors(blp, 401, 403, 404)
    def get(self, id):
        """One patient (a patient sees their own record only)"""
        return visible_patient(current_principal(), id)

    @require_roles(*STAFF_ROLES, "patient")
    @blp.arguments(PatientUpdateSchema)
    @blp.response(200, PatientSchema)
    @errors(blp, 401, 403, 404)
    def patch(self, data, id):
        """Change the patient's time zone (pending reminders follow), language or contact details"""
        return patients_service.update_patient(visible_patient(current_principal(), id), data)


@blp.route("/patients/<id>/discontinue")
class Discontinue(MethodView):
    @require_roles(*STAFF_ROLES)
    @blp.arguments(DiscontinueSchema)
    @blp.response(200, PatientSchema)
    @errors(blp, 401, 403, 404, 409)
    def post(self, data, id):
        """Treatment discontinued: future dosing is cancelled, tumour assessments and surveys go on"""
        patient = visible_patient(current_principal(), id)
        return patients_service.discontinue_patient(patient, data)
