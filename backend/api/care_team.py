"""The patient's care team: the site's name, phone, hours and what to do out of hours."""
from flask.views import MethodView

from backend.api.base import Blueprint
from backend.api.docs import errors
from backend.auth import current_principal, require_roles
from backend.schemas.care_team import CareTeamSchema
from backend.services import care_team as care_team_service

blp = Blueprint("care_team", __name__, description="Who the patient calls")


@blp.route("/me/care-team")
class MyCareTeam(MethodView):
    @require_roles("patient")
    @blp.response(200, CareTeamSchema)
    @errors(blp, 401, 403, 404)
    def get(self):
        """The patient's care team (their site), in the patient's language"""
        return care_team_service.my_care_team(current_principal())
