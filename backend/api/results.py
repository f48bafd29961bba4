from flask import Response
from flask.views import MethodView

from backend.api.base import Blueprint
from backend.api.docs import errors
from backend.auth import STAFF_ROLES, current_principal, require_roles
from backend.schemas.results import (CutoffQuerySchema, EfficacySchema, ExportCutoffQuerySchema, ResponseSchema,
                                     ResultsQuerySchema, SafetySchema)
from backend.services import results as results_service
from backend.services import results_exports
from backend.services import safety as safety_service

blp = Blueprint("results", __name__, description="Confirmed response, ORR, CBR, DoR, OS, Kaplan-Meier and safety")


@blp.route("/patients/<id>/response")
class PatientResponse(MethodView):
    @require_roles(*STAFF_ROLES)
    @blp.arguments(CutoffQuerySchema, location="query")
    @blp.response(200, ResponseSchema)
    @errors(blp, 401, 403, 404)
    def get(self, query, id):
        """Best overall response (RECIST 1.1, confirmed), DoR and OS of a patient on a cut-off"""
        return results_service.patient_response(current_principal(), id, query["cutoff"])


@blp.route("/studies/<code>/efficacy")
class StudyEfficacy(MethodView):
    @require_roles(*STAFF_ROLES)
    @blp.arguments(ResultsQuerySchema, location="query")
    @blp.response(200, EfficacySchema)
    @errors(blp, 401, 403, 404)
    def get(self, query, code):
        """ORR and CBR with exact intervals; Kaplan-Meier summaries of PFS, OS and DoR"""
        return results_service.study_efficacy(current_principal(), code, query["cutoff"], query["regimen"])


@blp.route("/studies/<code>/safety")
class StudySafety(MethodView):
    @require_roles(*STAFF_ROLES)
    @blp.arguments(ResultsQuerySchema, location="query")
    @blp.response(200, SafetySchema)
    @errors(blp, 401, 403, 404)
    def get(self, query, code):
        """Treatment-emergent adverse events by CTCAE term and worst grade; PRO-CTCAE worst grades"""
        return safety_service.study_safety(current_principal(), code, query["cutoff"], query["regimen"])


CSV = {"type": "string", "description": "RFC 4180 CSV with a header row"}


def _csv(text: str, filename: str) -> Response:
    return Response(text, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@blp.route("/studies/<code>/exports/adrs.csv")
class Adrs(MethodView):
    @require_roles("admin", "coordinator")
    @blp.arguments(ExportCutoffQuerySchema, location="query")
    @blp.response(200, CSV, content_type="text/csv", description="ADaM-style ADRS, one BOR row per dosed subject")
    @errors(blp, 401, 403, 404)
    def get(self, query, code):
        """Confirmed best overall response per subject (ADaM ADRS style), with the confirmation dates"""
        cutoff = query["cutoff"] or query["as_of"]
        return _csv(results_exports.adrs_csv(current_principal(), code, cutoff), f"{code}-adrs.csv")


@blp.route("/studies/<code>/exports/adae-summary.csv")
class AdaeSummary(MethodView):
    @require_roles("admin", "coordinator")
    @blp.arguments(ExportCutoffQuerySchema, location="query")
    @blp.response(200, CSV, content_type="text/csv", description="One row per regimen (and ALL) and CTCAE term")
    @errors(blp, 401, 403, 404)
    def get(self, query, code):
        """Treatment-emergent adverse events: patients by worst grade, per regimen and term"""
        cutoff = query["cutoff"] or query["as_of"]
        return _csv(results_exports.adae_summary_csv(current_principal(), code, cutoff), f"{code}-adae-summary.csv")
