"""Today at my site: the worklist, with each row's action done in place, and the site switcher.

Rows are the worklist service's (CONTRACT.md "Site work": `priority, kind, patient_id, subject_id,
event_id, alert_id, days_overdue, due_date, what, action`), read with `.get` so kinds and fields
added later render without a change here. Actions post back and redirect (POST/redirect/GET):
acknowledging an alert calls the alert service; recording or rescheduling a visit calls the same
calendar use case as `PATCH /patients/{id}/events/{event_id}`, parsed by the same schema. The list is
shown `PAGE_SIZE` rows a page, so a site of 1,000 patients renders fifty rows' forms, not hundreds; the
rows' sentences are translated from the phrases the service keeps beside its English (`row_text`).
"""
from __future__ import annotations

import uuid

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from backend.auth import STAFF_ROLES, Principal, can_see_site, visible_patient
from backend.console.auth import staff_page
from backend.console.i18n import say
from backend.errors import DomainError
from backend.extensions import db
from backend.models import Event, Site, Study, SymptomAlert
from backend.schemas.alerts import AlertAcknowledgeSchema
from backend.schemas.calendars import EventRecordSchema
from backend.services import alerts as alerts_service
from backend.services import calendars as calendars_service
from backend.services import worklists as worklists_service
from backend.services.assessments import site_today
from backend.services.studies import site_by_code

bp = Blueprint("console_sites", __name__)

PAGE_SIZE = 50
"""Rows a page: the most urgent fifty first, the rest behind page links (a site of 1,000 patients has hundreds)."""

# Order of the sections; kinds the service adds later are shown after these, in the service's order.
SECTION_ORDER = ("symptom_alert", "pfs_at_risk", "visit_overdue", "no_baseline", "assessment_window_closing",
                 "visit_due", "survey_nonresponse")


def kind_titles() -> dict[str, str]:
    return {"symptom_alert": _("Symptom alerts"), "pfs_at_risk": _("PFS at risk"),
            "visit_overdue": _("Overdue visits"), "no_baseline": _("No baseline scan"),
            "assessment_window_closing": _("Scan windows closing"), "visit_due": _("Visits due this week"),
            "survey_nonresponse": _("Survey non-responders")}


def visible_sites(principal: Principal) -> list[Site]:
    """The sites the switcher offers: a nurse's own, a coordinator's studies', every site for admins."""
    stmt = sa.select(Site).join(Study, Study.id == Site.study_id).order_by(Site.code)
    return [site for site in db.session.scalars(stmt) if can_see_site(principal, site)]


def sections(rows: list[Mapping[str, Any]]) -> list[tuple[str, list[Mapping[str, Any]]]]:
    """Rows grouped by kind, most urgent kind first; within a kind the service's order is kept."""
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row.get("kind") or "other", []).append(row)
    known = [kind for kind in SECTION_ORDER if kind in grouped]
    return [(kind, grouped[kind]) for kind in known + [k for k in grouped if k not in SECTION_ORDER]]


def events_for_rows(rows: list[Mapping[str, Any]]) -> dict[str, Event]:
    """The visits the rows' in-place forms act on (window, version), in one query."""
    ids = [uuid.UUID(str(row["event_id"])) for row in rows if row.get("event_id")]
    if not ids:
        return {}
    return {str(e.id): e for e in db.session.scalars(sa.select(Event).where(Event.id.in_(ids)))}


def alerts_for_rows(rows: list[Mapping[str, Any]]) -> dict[str, SymptomAlert]:
    ids = [uuid.UUID(str(row["alert_id"])) for row in rows if row.get("alert_id")]
    if not ids:
        return {}
    return {str(a.id): a for a in db.session.scalars(sa.select(SymptomAlert).where(SymptomAlert.id.in_(ids)))}


def row_text(row: Mapping[str, Any], key: str) -> str:
    """``what`` or ``action`` translated; a row without phrases (a source that only gives English) as it is."""
    text = row.get("text") or {}
    return say(text[key]) if key in text else str(row.get(key) or "")


def page_number(value: str | None, pages: int) -> int:
    """``?page=`` bounded to 1..pages; anything else is the first page."""
    number = int(value) if value and value.isdigit() and len(value) < 7 else 1
    return min(max(number, 1), pages)


def worklist_page(principal: Principal, code: str, page: str | None = None) -> dict[str, Any]:
    """The worklist, `PAGE_SIZE` rows a page (most urgent first); only the page's rows get their forms' data."""
    site = site_by_code(principal, code)
    day = site_today(site)
    rows = worklists_service.site_worklist(principal, code, day)
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    number = page_number(page, pages)
    shown = rows[(number - 1) * PAGE_SIZE:number * PAGE_SIZE]
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.get("kind") or "other"] = counts.get(row.get("kind") or "other", 0) + 1
    return {"site": site, "today": day, "rows": shown, "total": len(rows), "page": number, "pages": pages,
            "first_index": (number - 1) * PAGE_SIZE, "sections": sections(shown), "counts": counts,
            "events": events_for_rows(shown), "alerts": alerts_for_rows(shown), "sites": visible_sites(principal),
            "titles": kind_titles(), "reschedule_day": default_reschedule_day, "row_text": row_text}


@bp.route("/")
@staff_page(*STAFF_ROLES)
def home():
    """Nurses land on their first site's day; coordinators and admins on their first study."""
    principal = g.principal
    if principal.role != "nurse":
        studies = sorted({site.study.code for site in visible_sites(principal)})
        if studies:
            return redirect(url_for("console_studies.study", code=studies[0]))
    sites = visible_sites(principal)
    if sites:
        return redirect(url_for("console_sites.site", code=sites[0].code))
    return render_template("console/sites/none.html")


@bp.route("/sites/go")
@staff_page(*STAFF_ROLES)
def switch():
    """The site switcher (a GET form): to the chosen site's day."""
    code = (request.args.get("site") or "")[:40]
    return redirect(url_for("console_sites.site", code=code)) if code else redirect(url_for("console_sites.home"))


@bp.route("/sites/<code>")
@staff_page(*STAFF_ROLES)
def site(code: str):
    """Today at the site: what its nurses must act on, most urgent first."""
    return render_template("console/sites/worklist.html", **worklist_page(g.principal, code, request.args.get("page")))


def _back(code: str):
    """Back to the page of the list the form was on (its rows may have moved up since)."""
    page = (request.form.get("page") or "")[:6]
    return redirect(url_for("console_sites.site", code=code, page=int(page) if page.isdigit() and page != "1" else None)
                    + (request.form.get("anchor") or ""))


def _fail(error: Exception) -> None:
    if isinstance(error, ma.ValidationError):
        messages = error.messages if isinstance(error.messages, dict) else {"": error.messages}
        text = "; ".join(f"{field}: {' '.join(map(str, problems))}" if field else " ".join(map(str, problems))
                         for field, problems in messages.items())
        flash(_("Not saved: %(problem)s", problem=text), "error")
    else:
        flash(_("Not saved: %(problem)s", problem=getattr(error, "message", str(error))), "error")


@bp.route("/sites/<code>/alerts/<alert_id>/acknowledge", methods=["POST"])
@staff_page(*STAFF_ROLES)
def acknowledge(code: str, alert_id: str):
    """Acknowledge an alert with the note of what was done; it closes."""
    site_by_code(g.principal, code)
    try:
        data = AlertAcknowledgeSchema().load({"action": (request.form.get("note") or "").strip()})
        alert = alerts_service.acknowledge_alert(g.principal, alert_id, data["action"])
    except (ma.ValidationError, DomainError) as error:
        if getattr(error, "status_code", None) == 404:
            raise
        _fail(error)
        return _back(code)
    flash(_("Alert for %(subject)s acknowledged.", subject=alert.patient.subject_id), "success")
    return _back(code)


def event_form_data(form: Mapping[str, str]) -> dict[str, Any]:
    """The form's fields as the PATCH body the calendar schema parses (empty fields left out)."""
    fields = ("status", "actual_date", "reason") if form.get("op") == "record" else ("target_date", "reason")
    data: dict[str, Any] = {name: form[name].strip() for name in fields if (form.get(name) or "").strip()}
    if data.get("status") != "completed":
        data.pop("actual_date", None)  # only a completed visit has a date of its own
    if form.get("op") == "reschedule":
        data["force"] = form.get("confirm_outside") == "yes"
    return data


@bp.route("/sites/<code>/patients/<patient_id>/events/<event_id>", methods=["POST"])
@staff_page(*STAFF_ROLES)
def record(code: str, patient_id: str, event_id: str):
    """Record a visit completed, missed or held, or reschedule it (outside its window only when confirmed)."""
    site_by_code(g.principal, code)
    patient = visible_patient(g.principal, patient_id)
    if request.form.get("op") not in ("record", "reschedule"):
        abort(400)
    try:
        data = EventRecordSchema().load(event_form_data(request.form))
        calendars_service.record_event(g.principal, patient, event_id, data, request.form.get("version"))
    except (ma.ValidationError, DomainError) as error:
        if getattr(error, "status_code", None) == 404:
            raise
        if getattr(error, "reason", None) == "outside_window":
            flash(_("%(subject)s: that day is outside the visit window. Tick “Outside the window: I confirm” "
                    "to move it anyway.", subject=patient.subject_id), "error")
            return _back(code)
        _fail(error)
        return _back(code)
    done = (_("%(subject)s: visit rescheduled.", subject=patient.subject_id) if request.form["op"] == "reschedule"
            else _("%(subject)s: visit recorded as %(status)s.", subject=patient.subject_id,
                   status=_status_word(data.get("status"))))
    flash(done, "success")
    return _back(code)


def _status_word(status: str | None) -> str:
    return {"completed": _("completed"), "missed": _("missed"), "held": _("held")}.get(status or "", status or "")


def default_reschedule_day(event: Event, today: date) -> date:
    """The form's suggestion: the next day inside the window that is not in the past."""
    return max(today, min(event.target_date + timedelta(days=1), event.window_end))
