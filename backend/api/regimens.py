from flask.views import MethodView

from backend.api.base import Blueprint
from backend.api.docs import errors
from backend.auth import STAFF_ROLES, require_roles
from backend.schemas.regimens import RegimenSchema
from backend.services import regimens as regimens_service

blp = Blueprint("regimens", __name__, description="Built-in treatment regimens")


@blp.route("/regimens")
class Regimens(MethodView):
    @require_roles(*STAFF_ROLES, "patient")
    @blp.response(200, RegimenSchema(many=True))
    @errors(blp, 401)
    def get(self):
        """The built-in regimens: agents, doses (loading and reload rules) and day patterns"""
        return regimens_service.list_regimens()
