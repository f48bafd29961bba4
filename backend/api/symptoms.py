from flask.views import MethodView

from backend.api.base import Blueprint, paginate_select
from backend.api.docs import errors
from backend.auth import current_principal, require_roles
from backend.extensions import db
from backend.schemas.symptoms import (
    ItemsQuerySchema,
    SymptomItemLibrarySchema,
    SymptomItemSchema,
    SymptomReportCreateSchema,
    SymptomReportSchema,
)
from backend.services import symptoms as symptoms_service

blp = Blueprint("symptoms", __name__, description="PRO-CTCAE symptom reporting")

ALL_ROLES = ("admin", "coordinator", "nurse", "patient")

ITEMS_ANSWER = """The PRO-CTCAE items, as a list (the contract's shape). With `?envelope=1` the answer is
instead an object `{"locale", "locale_fallback", "items": [...]}`.

Texts other than English come only from NCI's official translation file for the locale; items it
does not cover are answered in English. Either way the `X-Locale-Fallback` header says `true` when
some items are in English although another locale was asked for, and each item carries the
`locale` its texts are in."""

FALLBACK_HEADER = {"X-Locale-Fallback": {"description": "`true` when some items fell back to English",
                                         "schema": {"type": "string", "enum": ["true", "false"]}}}


@blp.route("/symptoms/items")
class SymptomItems(MethodView):
    @require_roles(*ALL_ROLES)
    @blp.arguments(ItemsQuerySchema, location="query")
    @blp.response(200, description=ITEMS_ANSWER, headers=FALLBACK_HEADER)
    @blp.doc(responses={200: {"content": {"application/json": {"schema": {"oneOf": [
        {"type": "array", "items": SymptomItemSchema}, SymptomItemLibrarySchema]}}}}})
    @errors(blp, 401, 403, 409, 422)
    def get(self, query):
        """The PRO-CTCAE item library in a locale (optionally just the patient's study panel)"""
        library = symptoms_service.item_library(current_principal(), query["locale"], query["panel"])
        body = (SymptomItemLibrarySchema().dump(library) if query["envelope"]
                else SymptomItemSchema(many=True).dump(library.items))
        return body, 200, {"X-Locale-Fallback": "true" if library.locale_fallback else "false"}


@blp.route("/patients/<patient_id>/symptom-reports")
class SymptomReports(MethodView):
    @require_roles(*ALL_ROLES)
    @blp.arguments(SymptomReportCreateSchema)
    @blp.response(201, SymptomReportSchema)
    @blp.alt_response(200, schema=SymptomReportSchema,
                      description="A replay of a stored client_report_id: the stored report; nothing written")
    @errors(blp, 401, 403, 404, 409, 422)
    def post(self, data, patient_id):
        """Submit a PRO-CTCAE report (patients their own; site staff on a patient's behalf)"""
        report, created = symptoms_service.submit_report(current_principal(), patient_id, data)
        return report, 201 if created else 200

    @require_roles(*ALL_ROLES)
    @blp.response(200, SymptomReportSchema(many=True))
    @blp.paginate()
    @errors(blp, 401, 403, 404)
    def get(self, patient_id, pagination_parameters):
        """A patient's symptom reports, newest first"""
        stmt = symptoms_service.reports_query(current_principal(), patient_id)
        return paginate_select(db.session, stmt, pagination_parameters)
