from flask.views import MethodView

from backend.api.base import Blueprint
from backend.api.docs import errors
from backend.auth import STAFF_ROLES, current_principal, require_roles
from backend.schemas.pfs import PfsQuerySchema, PfsSchema
from backend.services import pfs as pfs_service

blp = Blueprint("pfs", __name__, description="Progression-free survival with FDA 2018 censoring")


@blp.route("/patients/<id>/pfs")
class Pfs(MethodView):
    @require_roles(*STAFF_ROLES)
    @blp.arguments(PfsQuerySchema, location="query")
    @blp.response(200, PfsSchema)
    @errors(blp, 401, 403, 404)
    def get(self, query, id):
        """PFS status, date and censoring, visit statuses and the early warning, on a date"""
        return pfs_service.patient_pfs(current_principal(), id, query["as_of"])
