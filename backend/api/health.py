from flask.views import MethodView

from backend.api.base import Blueprint
from backend.schemas.health import HealthSchema
from backend.services.health import health

blp = Blueprint("health", __name__, description="Service health")


@blp.route("/health")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    @blp.doc(security=[])
    def get(self):
        """Database and Redis status (no auth)"""
        return health()
