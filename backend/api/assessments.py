from flask.views import MethodView

from backend.api.base import Blueprint, paginate_select
from backend.api.docs import errors
from backend.auth import STAFF_ROLES, current_principal, require_roles
from backend.extensions import db
from backend.schemas.assessments import AssessmentCreateSchema, AssessmentSchema, OutcomeCreateSchema, OutcomeSchema
from backend.services import assessments as assessments_service

blp = Blueprint("assessments", __name__, description="Tumour assessments (RECIST 1.1) and patient outcomes")


@blp.route("/patients/<id>/assessments")
class Assessments(MethodView):
    @require_roles(*STAFF_ROLES)
    @blp.arguments(AssessmentCreateSchema)
    @blp.response(201, AssessmentSchema)
    @errors(blp, 401, 403, 404, 409)
    def post(self, data, id):
        """Record a tumour assessment: an overall response, or the baseline scan"""
        return assessments_service.record_assessment(current_principal(), id, data)

    @require_roles(*STAFF_ROLES)
    @blp.response(200, AssessmentSchema(many=True))
    @blp.paginate()
    @errors(blp, 401, 403, 404)
    def get(self, id, pagination_parameters):
        """The patient's tumour assessments, baseline first"""
        stmt = assessments_service.assessments_query(current_principal(), id)
        return paginate_select(db.session, stmt, pagination_parameters)


@blp.route("/patients/<id>/outcomes")
class Outcomes(MethodView):
    @require_roles(*STAFF_ROLES)
    @blp.arguments(OutcomeCreateSchema)
    @blp.response(201, OutcomeSchema)
    @errors(blp, 401, 403, 404, 409)
    def post(self, data, id):
        """Record a death, new anticancer therapy, treatment discontinuation or end of follow-up"""
        return assessments_service.record_outcome(current_principal(), id, data)

    @require_roles(*STAFF_ROLES)
    @blp.response(200, OutcomeSchema(many=True))
    @blp.paginate()
    @errors(blp, 401, 403, 404)
    def get(self, id, pagination_parameters):
        """The patient's outcomes, by date"""
        stmt = assessments_service.outcomes_query(current_principal(), id)
        return paginate_select(db.session, stmt, pagination_parameters)
