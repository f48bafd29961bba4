from flask.views import MethodView

from backend.api.base import Blueprint
from backend.api.docs import errors
from backend.auth import current_principal, require_roles
from backend.schemas.reconciliation import ReconciliationQuerySchema, ReconciliationSchema
from backend.services import reconciliation as reconciliation_service

blp = Blueprint("reconciliation", __name__, description="Planned versus recorded, for data managers")


@blp.route("/studies/<code>/reconciliation")
class Reconciliation(MethodView):
    @require_roles("admin", "coordinator")
    @blp.arguments(ReconciliationQuerySchema, location="query")
    @blp.response(200, ReconciliationSchema)
    @errors(blp, 401, 403, 404)
    def get(self, query, code):
        """Visits outside their window or not recorded, duplicates, scans after progression, calendar drift"""
        return reconciliation_service.study_reconciliation(current_principal(), code, query["as_of"])
