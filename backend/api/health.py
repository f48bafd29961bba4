from flask.views import MethodView

from backend.api.base import Blueprint
from backend.schemas.health import HealthSchema
from backend.services.health import health

blp = Blueprint("health", __name__, description="Service health")


@blp.route("/health")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, schema=HealthSchema, description="The database is down (Redis down alone is still 200)")
    @blp.doc(security=[])
    def get(self):
        """Database and Redis status (no auth)"""
        answer = health()
        return answer, 200 if answer["database"] == "ok" else 503
