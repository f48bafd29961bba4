"""The Results page of a study: Kaplan-Meier curves of PFS and OS, ORR and CBR, a swimmer plot and the
safety table, on one cut-off and optionally one regimen.

Coordinators see their studies, nurses their own sites' patients (the API's scope; out of scope is 404
like missing). The numbers are the API's: efficacy is `services.results.study_results`, the function
behind GET /studies/{code}/efficacy, and safety `services.safety.study_safety`, behind
GET /studies/{code}/safety; the query is parsed by the endpoints' own `ResultsQuerySchema`. The
pictures are drawn on the server (`backend.charts.km`, `backend.charts.swimmer`), so the page needs no
script and prints as shown.
"""
from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Blueprint, g, render_template, request
from flask_babel import gettext as _

from backend.auth import Principal
from backend.charts.km import km_chart
from backend.charts.swimmer import swimmer_chart
from backend.console.auth import staff_page
from backend.schemas.results import ResultsQuerySchema
from backend.services import results as results_service
from backend.services import safety as safety_service
from schedules import safety as safety_rules

bp = Blueprint("console_results", __name__)

QUERY_FIELDS = ("cutoff", "regimen")


def parse_query(args: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """(cutoff and regimen, field errors): the API's query schema; a refused field falls back to its default
    and is shown beside its input (never a 500, never a silent change)."""
    given = {name: str(args.get(name, ""))[:100] for name in QUERY_FIELDS if args.get(name)}
    try:
        return ResultsQuerySchema().load(given), {}
    except ma.ValidationError as error:
        errors = {name: list(messages) if isinstance(messages, list) else [str(messages)]
                  for name, messages in error.normalized_messages().items()}
        kept = {name: value for name, value in given.items() if name not in errors}
        return ResultsQuerySchema().load(kept), errors


def km_figure(efficacy: dict[str, Any], endpoint: str) -> dict[str, Any]:
    """One curve per regimen when several are shown, else the group's own curve."""
    groups = efficacy["by_regimen"] if len(efficacy["by_regimen"]) > 1 else []
    summaries = {g["regimen"]: g["km"][endpoint] for g in groups} or {
        efficacy["regimen"] or _("All patients"): efficacy["km"][endpoint]}
    return {"chart": km_chart(summaries), "rows": list(summaries.items())}


def results_page(principal: Principal, code: str, args: Any) -> dict[str, Any]:
    query, errors = parse_query(args)
    # 404 out of scope, like missing; the patients are loaded once for both tables (the endpoints' functions)
    study, patients = results_service.study_patients(principal, code, query["regimen"])
    efficacy, results = results_service.efficacy_of(patients, query["cutoff"], query["regimen"])
    safety = safety_service.safety_of(patients, query["cutoff"], query["regimen"])
    lanes = [results_service.swimmer_lane(result) for result in results]
    groups = [{**efficacy, "regimen": efficacy["regimen"] or _("All patients")}]
    if len(efficacy["by_regimen"]) > 1:
        groups += efficacy["by_regimen"]
    return {
        "study": study, "query": query, "errors": errors,
        "raw": {name: str(args.get(name, ""))[:100] for name in QUERY_FIELDS},
        "regimens": results_service.study_regimens(principal, code),
        "efficacy": efficacy, "groups": groups, "safety": safety,
        "km": {"pfs": km_figure(efficacy, "pfs"), "os": km_figure(efficacy, "os")},
        "swimmer": swimmer_chart(lanes), "lanes": len(lanes),
        "actions": safety_rules.ACTIONS, "grades": safety_rules.GRADES,
    }


@bp.route("/studies/<code>/results")
@staff_page("admin", "coordinator", "nurse")
def results(code: str):
    """KM curves of PFS and OS, ORR/CBR, the swimmer plot and the safety table of a study."""
    return render_template("console/studies/results.html", **results_page(g.principal, code, request.args))
