from flask.views import MethodView

from backend.api.base import Blueprint, paginate_select
from backend.api.docs import errors
from backend.auth import current_principal, require_roles
from backend.extensions import db
from backend.schemas.audit import AuditQuerySchema, AuditRecordSchema
from backend.services import audit as audit_service

blp = Blueprint("audit", __name__, description="The append-only audit trail")


@blp.route("/audit")
class Audit(MethodView):
    @require_roles("admin", "coordinator")
    @blp.arguments(AuditQuerySchema, location="query")
    @blp.response(200, AuditRecordSchema(many=True))
    @blp.paginate()
    @errors(blp, 401, 403, 404, 422)
    def get(self, query, pagination_parameters):
        """Who changed what, when and why, oldest first"""
        stmt = audit_service.audit_query(current_principal(), query["entity"], query["id"])
        return audit_service.with_usernames(paginate_select(db.session, stmt, pagination_parameters))
