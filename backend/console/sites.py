"""Today at my site: the worklist, with each row's action done in place, and the site switcher.

Rows are the worklist service's (CONTRACT.md "Site work": `priority, kind, patient_id, subject_id,
event_id, alert_id, days_overdue, due_date, what, action`), read with `.get` so kinds and fields
added later render without a change here. Actions post back and redirect (POST/redirect/GET):
acknowledging an alert calls the alert service; recording or rescheduling a visit calls the same
calendar use case as `PATCH /patients/{id}/events/{event_id}`, parsed by the same schema.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from backend.auth import STAFF_ROLES, Principal, can_see_site, visible_patient
from backend.console.auth import staff_page
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


# --- ADAPTER: today's worklist rows -> the contract's rows ------------------------------------------
# The visits work rewrites the worklist service to answer the contract's rows (with `event_id`,
# `alert_id`, `days_overdue`). Until it is merged, rows lack those keys: this one function finds
# them. When every row has them it returns the rows unchanged, so it can be deleted after the merge.
def contract_rows(site: Site, day: date, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if all("event_id" in row and "alert_id" in row for row in rows):
        return rows
    alerts = {(str(a.patient_id), f"Symptom alert: {a.term} ({a.rule.replace('_', ' ')})"): str(a.id)
              for a in alerts_service.open_alerts_for_site(site.id)}
    patient_ids = {row["patient_id"] for row in rows if row["kind"] in ("visit_overdue", "visit_due")}
    events: dict[tuple[str, str], Any] = {}
    if patient_ids:
        for event in db.session.execute(sa.select(Event.id, Event.patient_id, Event.label, Event.target_date,
                                                  Event.window_end).where(
                Event.patient_id.in_(list(patient_ids)), Event.status == "planned",
                Event.target_date <= day + timedelta(days=worklists_service.DUE_DAYS),
                Event.kind.in_(worklists_service.CLINIC_VISIT_KINDS))):
            events[(str(event.patient_id), f"{event.label} planned {event.target_date}")] = event
    adapted = []
    for row in rows:
        row = {"event_id": None, "alert_id": None, "days_overdue": None, **row}
        if row["kind"] == "symptom_alert":
            row["alert_id"] = alerts.get((row["patient_id"], row["what"]))
        elif row["kind"] in ("visit_overdue", "visit_due"):
            key = row["what"].split(" is not recorded")[0].split(" (window")[0]
            match = events.get((row["patient_id"], key))
            if match is not None:
                row["event_id"] = str(match.id)
                if match.window_end < day:
                    row["days_overdue"] = (day - match.window_end).days
        adapted.append(row)
    return adapted
# --- end of the adapter ----------------------------------------------------------------------------


def sections(rows: list[Mapping[str, Any]]) -> list[tuple[str, list[Mapping[str, Any]]]]:
    """Rows grouped by kind, most urgent kind first; within a kind the service's order is kept."""
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row.get("kind") or "other", []).append(row)
    known = [kind for kind in SECTION_ORDER if kind in grouped]
    return [(kind, grouped[kind]) for kind in known + [k for k in grouped if k not in SECTION_ORDER]]


def events_for_rows(rows: list[Mapping[str, Any]]) -> dict[str, Event]:
    """The visits the rows' in-place forms act on (window, version), in one query."""
    ids = [row["event_id"] for row in rows if row.get("event_id")]
    if not ids:
        return {}
    return {str(e.id): e for e in db.session.scalars(sa.select(Event).where(Event.id.in_(ids)))}


def alerts_for_rows(rows: list[Mapping[str, Any]]) -> dict[str, SymptomAlert]:
    ids = [row["alert_id"] for row in rows if row.get("alert_id")]
    if not ids:
        return {}
    return {str(a.id): a for a in db.session.scalars(sa.select(SymptomAlert).where(SymptomAlert.id.in_(ids)))}


def worklist_page(principal: Principal, code: str) -> dict[str, Any]:
    site = site_by_code(principal, code)
    day = site_today(site)
    rows = contract_rows(site, day, worklists_service.site_worklist(principal, code, day))
    return {"site": site, "today": day, "rows": rows, "sections": sections(rows), "events": events_for_rows(rows),
            "alerts": alerts_for_rows(rows), "sites": visible_sites(principal), "titles": kind_titles(),
            "reschedule_day": default_reschedule_day}


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
    return render_template("console/sites/worklist.html", **worklist_page(g.principal, code))


def _back(code: str):
    return redirect(url_for("console_sites.site", code=code) + (request.form.get("anchor") or ""))


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
