from flask.views import MethodView

from backend.api.base import Blueprint
from backend.api.docs import errors
from backend.auth import STAFF_ROLES, current_principal, require_roles
from backend.schemas.compliance import ComplianceQuerySchema, ComplianceSchema
from backend.services import compliance as compliance_service

blp = Blueprint("compliance", __name__, description="Study compliance per site")


@blp.route("/studies/<code>/compliance")
class Compliance(MethodView):
    @require_roles(*STAFF_ROLES)
    @blp.arguments(ComplianceQuerySchema, location="query")
    @blp.response(200, ComplianceSchema)
    @errors(blp, 401, 403, 404)
    def get(self, query, code):
        """Per site: tumour assessments done/late/early/missed/NE-only, doses on time/delayed/held, surveys"""
        return compliance_service.study_compliance(current_principal(), code, query["as_of"])
