from flask.views import MethodView

from backend.api.base import Blueprint, paginate_select
from backend.api.docs import errors
from backend.auth import STAFF_ROLES, current_principal, require_roles
from backend.extensions import db
from backend.schemas.alerts import AlertAcknowledgeSchema, AlertQuerySchema, AlertSchema
from backend.services import alerts as alerts_service

blp = Blueprint("alerts", __name__, description="Symptom alerts for the site team")


@blp.route("/alerts")
class Alerts(MethodView):
    @require_roles(*STAFF_ROLES)
    @blp.arguments(AlertQuerySchema, location="query")
    @blp.response(200, AlertSchema(many=True))
    @blp.paginate()
    @errors(blp, 401, 403, 404)
    def get(self, query, pagination_parameters):
        """Symptom alerts of the caller's sites (nurses) or studies (coordinators), newest first"""
        stmt = alerts_service.alerts_query(current_principal(), query["site"], query["status"])
        return paginate_select(db.session, stmt, pagination_parameters)


@blp.route("/alerts/<alert_id>/acknowledge")
class AlertAcknowledge(MethodView):
    @require_roles(*STAFF_ROLES)
    @blp.arguments(AlertAcknowledgeSchema)
    @blp.response(200, AlertSchema)
    @errors(blp, 401, 403, 404, 409)
    def post(self, data, alert_id):
        """Acknowledge an alert with the action taken; this closes it"""
        return alerts_service.acknowledge_alert(current_principal(), alert_id, data["action"])
