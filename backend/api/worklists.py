from flask.views import MethodView

from backend.api.base import Blueprint
from backend.api.docs import errors
from backend.auth import STAFF_ROLES, current_principal, require_roles
from backend.schemas.worklists import WorklistQuerySchema, WorklistRowSchema
from backend.services import worklists as worklists_service

blp = Blueprint("worklists", __name__, description="What a site's nurses must act on")


@blp.route("/sites/<code>/worklist")
class Worklist(MethodView):
    @require_roles(*STAFF_ROLES)
    @blp.arguments(WorklistQuerySchema, location="query")
    @blp.response(200, WorklistRowSchema(many=True))
    @blp.paginate()
    @errors(blp, 401, 403, 404)
    def get(self, query, code, pagination_parameters):
        """The site's worklist, one row per patient and thing to do, most urgent first

        Symptom alerts, PFS at risk, visits overdue, no baseline scan, visits due this week, surveys not
        answered (kinds in the README); each row names the event or alert it is about.
        """
        rows = worklists_service.site_worklist(current_principal(), code, query["date"])
        pagination_parameters.item_count = len(rows)
        start = (pagination_parameters.page - 1) * pagination_parameters.page_size
        return list(rows[start:start + pagination_parameters.page_size])
