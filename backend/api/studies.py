from flask.views import MethodView

from backend.api.base import Blueprint
from backend.api.docs import errors
from backend.auth import STAFF_ROLES, current_principal, require_roles
from backend.schemas.care_team import SiteUpdateSchema
from backend.schemas.studies import SiteCreateSchema, SiteSchema, StudyCreateSchema, StudySchema, StudyUpdateSchema
from backend.services import care_team as care_team_service
from backend.services import studies as studies_service

blp = Blueprint("studies", __name__, description="Studies and their sites")


@blp.route("/studies")
class Studies(MethodView):
    @require_roles("admin")
    @blp.arguments(StudyCreateSchema)
    @blp.response(201, StudySchema)
    @errors(blp, 401, 403, 409)
    def post(self, data):
        """Create a study with its assessment schedule and PFS missed-assessment rule"""
        return studies_service.create_study(current_principal(), data)

    @require_roles(*STAFF_ROLES)
    @blp.response(200, StudySchema(many=True))
    @errors(blp, 401, 403)
    def get(self):
        """The studies the caller may see"""
        return studies_service.list_studies(current_principal())


@blp.route("/studies/<code>")
class StudyByCode(MethodView):
    @require_roles(*STAFF_ROLES)
    @blp.response(200, StudySchema)
    @errors(blp, 401, 403, 404)
    def get(self, code):
        """One study"""
        return studies_service.study_by_code(current_principal(), code)

    @require_roles("admin")
    @blp.arguments(StudyUpdateSchema)
    @blp.response(200, StudySchema)
    @errors(blp, 401, 403, 404)
    def patch(self, data, code):
        """Amend the protocol settings (schedule, PFS rule, policies) with the reason; calendars are then reconciled"""
        return studies_service.amend_study(current_principal(), code, data)


@blp.route("/sites")
class Sites(MethodView):
    @require_roles("admin", "coordinator")
    @blp.arguments(SiteCreateSchema)
    @blp.response(201, SiteSchema)
    @errors(blp, 401, 403, 409)
    def post(self, data):
        """Create a site of a study, with its IANA time zone and country (for public holidays)"""
        return studies_service.create_site(current_principal(), data)


@blp.route("/sites/<code>")
class SiteByCode(MethodView):
    @require_roles("admin", "coordinator")
    @blp.arguments(SiteUpdateSchema)
    @blp.response(200, SiteSchema)
    @errors(blp, 401, 403, 404)
    def patch(self, data, code):
        """Change the site's care-team details patients see (phone, hours, out of hours), with a reason"""
        return care_team_service.update_site(current_principal(), code, data)
