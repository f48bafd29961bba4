from flask import Response
from flask.views import MethodView

from backend.api.base import Blueprint
from backend.api.docs import errors
from backend.auth import current_principal, require_roles
from backend.schemas.exports import ExportQuerySchema
from backend.services import exports as exports_service

CSV = {"type": "string", "description": "RFC 4180 CSV with a header row"}

blp = Blueprint("exports", __name__, description="CSV exports for statisticians")


def _csv(text: str, filename: str) -> Response:
    return Response(text, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@blp.route("/studies/<code>/exports/adtte.csv")
class Adtte(MethodView):
    @require_roles("admin", "coordinator")
    @blp.arguments(ExportQuerySchema, location="query")
    @blp.response(200, CSV, content_type="text/csv", description="ADaM-style ADTTE: PFS and OS rows per subject, DOR for confirmed responders")
    @errors(blp, 401, 403, 404)
    def get(self, query, code):
        """PFS, OS and DoR time-to-event per subject (ADaM ADTTE style), with missed-assessment flags"""
        return _csv(exports_service.adtte_csv(current_principal(), code, query["cutoff"]), f"{code}-adtte.csv")


@blp.route("/studies/<code>/exports/subject-visits.csv")
class SubjectVisits(MethodView):
    @require_roles("admin", "coordinator")
    @blp.arguments(ExportQuerySchema, location="query")
    @blp.response(200, CSV, content_type="text/csv", description="One row per visit")
    @errors(blp, 401, 403, 404)
    def get(self, query, code):
        """Every visit of every subject: planned and actual date, window and status"""
        return _csv(exports_service.subject_visits_csv(current_principal(), code, query["cutoff"]),
                    f"{code}-subject-visits.csv")
