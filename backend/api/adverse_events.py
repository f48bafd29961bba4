from flask.views import MethodView

from backend.api.base import Blueprint, paginate_select
from backend.api.docs import errors
from backend.auth import STAFF_ROLES, current_principal, require_roles
from backend.extensions import db
from backend.schemas.adverse_events import AdverseEventCreateSchema, AdverseEventSchema
from backend.services import adverse_events as adverse_events_service

blp = Blueprint("adverse_events", __name__, description="Adverse events graded by clinicians (CTCAE v5.0)")


@blp.route("/patients/<patient_id>/adverse-events")
class PatientAdverseEvents(MethodView):
    @require_roles(*STAFF_ROLES)
    @blp.arguments(AdverseEventCreateSchema)
    @blp.response(201, AdverseEventSchema)
    @errors(blp, 401, 403, 404, 422)
    def post(self, data, patient_id):
        """Record an adverse event with a grade CTCAE v5.0 defines for its term"""
        return adverse_events_service.record_adverse_event(current_principal(), patient_id, data)

    @require_roles(*STAFF_ROLES)
    @blp.response(200, AdverseEventSchema(many=True))
    @blp.paginate()
    @errors(blp, 401, 403, 404)
    def get(self, patient_id, pagination_parameters):
        """A patient's adverse events, latest onset first"""
        stmt = adverse_events_service.patient_adverse_events_query(current_principal(), patient_id)
        return paginate_select(db.session, stmt, pagination_parameters)


@blp.route("/sites/<code>/adverse-events")
class SiteAdverseEvents(MethodView):
    @require_roles(*STAFF_ROLES)
    @blp.response(200, AdverseEventSchema(many=True))
    @blp.paginate()
    @errors(blp, 401, 403, 404)
    def get(self, code, pagination_parameters):
        """A site's adverse events, latest onset first"""
        stmt = adverse_events_service.site_adverse_events_query(current_principal(), code)
        return paginate_select(db.session, stmt, pagination_parameters)
