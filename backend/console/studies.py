"""The study page (coordinators): compliance per site as charts, reconciliation findings, exports.

Compliance is `GET /studies/{code}/compliance`'s derivation, reconciliation
`GET /studies/{code}/reconciliation`'s, and the downloads are the same CSVs as
`GET /studies/{code}/exports/*.csv` (one cut-off, today at each site).
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, render_template, request
from flask_babel import gettext as _

from backend.auth import Principal
from backend.charts.compliance import Rate, rate_bars
from backend.console.auth import staff_page
from backend.errors import NotFound
from backend.services import exports as exports_service
from backend.services.compliance import study_compliance
from backend.services.reconciliation import study_reconciliation
from backend.services.studies import study_by_code

bp = Blueprint("console_studies", __name__)

SORTABLE = ("site", "subject_id", "kind", "date", "detail")
EXPORTS = {"adtte.csv": exports_service.adtte_csv, "subject-visits.csv": exports_service.subject_visits_csv}


def compliance_charts(compliance: dict[str, Any]) -> list[dict[str, Any]]:
    """Three charts, one bar per site: scans on time, doses given, surveys completed."""
    scans, doses, surveys = [], [], []
    for row in compliance["sites"]:
        a, d, s = row["assessments"], row["dosing"], row["surveys"]
        judged = a["done"] + a["late"] + a["early"] + a["missed"] + a["ne_only"]
        scans.append(Rate(row["site"], a["done"], judged))
        given = d["on_time"] + d["delayed"] + d["early"]
        doses.append(Rate(row["site"], given, given + d["held"] + d["missed"]))
        surveys.append(Rate(row["site"], s["completed"], s["expected"]))
    return [{"title": _("Scans on time"), "note": _("adequate scans inside their window, of the visits judged"),
             "chart": rate_bars(scans)},
            {"title": _("Doses given"), "note": _("given (on time, early or delayed), of given, held and missed"),
             "chart": rate_bars(doses)},
            {"title": _("Surveys completed"), "note": _("weekly surveys completed in their window, of those due"),
             "chart": rate_bars(surveys)}]


def sorted_findings(findings: list[dict[str, Any]], key: str, descending: bool) -> list[dict[str, Any]]:
    key = key if key in SORTABLE else "site"
    return sorted(findings, key=lambda f: (f.get(key) is None, str(f.get(key) or ""), f["subject_id"]),
                  reverse=descending)


def study_page(principal: Principal, code: str, sort: str, descending: bool) -> dict[str, Any]:
    study = study_by_code(principal, code)
    compliance = study_compliance(principal, code)
    reconciliation = study_reconciliation(principal, code)
    return {"study": study, "compliance": compliance, "charts": compliance_charts(compliance),
            "reconciliation": reconciliation, "sort": sort if sort in SORTABLE else "site", "descending": descending,
            "findings": sorted_findings(reconciliation["findings"], sort, descending)}


@bp.route("/studies/<code>")
@staff_page("admin", "coordinator")
def study(code: str):
    """Compliance per site, reconciliation findings (sortable), and the exports."""
    sort = (request.args.get("sort") or "site")[:20]
    return render_template("console/studies/study.html",
                           **study_page(g.principal, code, sort, request.args.get("dir") == "desc"))


@bp.route("/studies/<code>/exports/<name>")
@staff_page("admin", "coordinator")
def export(code: str, name: str):
    """The CSV downloads, as the API's exports."""
    make = EXPORTS.get(name)
    if make is None:
        raise NotFound("No such export.")
    text = make(g.principal, code)
    return Response(text, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{code}-{name}"'})
