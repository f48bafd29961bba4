from flask.views import MethodView

from backend.api.base import Blueprint
from backend.api.docs import errors
from backend.auth import STAFF_ROLES, require_roles
from backend.schemas.ctcae import CtcaeTermSchema, TermQuerySchema
from backend.services import ctcae as ctcae_service

blp = Blueprint("ctcae", __name__, description="The CTCAE v5.0 term list")


@blp.route("/ctcae/terms")
class CtcaeTerms(MethodView):
    @require_roles(*STAFF_ROLES)
    @blp.arguments(TermQuerySchema, location="query")
    @blp.response(200, CtcaeTermSchema(many=True))
    @errors(blp, 401, 403, 422)
    def get(self, query):
        """Search CTCAE v5.0 terms by words, MedDRA code or SOC"""
        return ctcae_service.find_terms(query["q"], query["limit"])
