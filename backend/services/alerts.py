"""Symptom alerts: raised with a report, listed for the site team, acknowledged, escalated when left open.

Rules and their sources:
- Which findings become alerts: `schedules.symptom_alerts.evaluate_alerts` under the study's
  `Study.settings["alert_rules"]` (`AlertRules` fields; default `AlertRules()`), against the
  patient's first and previous reports (by completion time).
- One alert per report at most, listing every finding the most serious first
  (`schedules.symptom_alerts.most_serious_first`), created in the report's own transaction, so a
  replayed report never raises it twice; the site's nurses are told once, in that same transaction,
  through the staff outbox (`staff.symptom_alert`, dedupe key `alert:<id>`), with each rule in words.
- Acknowledging records who, when and the action taken, and closes the alert (CONTRACT.md "Site
  work": `POST /alerts/{id}/acknowledge` "closes one").
- An alert still open after the study's `Study.settings["alert_escalation_hours"]` (default 24) is
  escalated once to the study's coordinators (`staff.alert_escalated`).
"""
from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from backend.auth import Principal, can_see_site, parse_id, site_filter
from backend.errors import Conflict, NotFound
from backend.extensions import db
from backend.models import Patient, Site, Study, SymptomAlert, SymptomReport
from backend.models.audit import REASON_KEY
from backend.models.base import new_id, utcnow
from backend.services.notifications import notify_site_staff
from backend.services.studies import site_by_code
from backend.services.study_settings import (
    DEFAULT_ESCALATION_HOURS,
    StudySettingsInvalid,
    escalation_hours,
    study_alert_rules,
)
from schedules.proctcae_grades import SymptomGrade
from schedules.symptom_alerts import evaluate_alerts, most_serious_first

log = logging.getLogger(__name__)

# --- raising -----------------------------------------------------------------------------------
def raise_alerts(report: SymptomReport, patient: Patient, grades: list[SymptomGrade]) -> list[SymptomAlert]:
    """Evaluate the study's rules for a new report: at most one alert, listing every finding (the
    most serious first), and one message about it to each of the site's nurses.

    Runs inside the report's transaction (the caller flushes the report first and commits after).
    """
    first, previous = _baselines(patient.id, report)
    findings = evaluate_alerts(grades, previous=previous.answers if previous else None,
                               first=first.answers if first else None, rules=study_alert_rules(patient.study))
    if not findings:
        return []
    by_term = {grade.term_number: grade for grade in grades}
    symptoms = []
    for finding in most_serious_first(findings, grades):
        grade = by_term[finding.term_number]
        detail = {**finding.detail, "answers": grade.answers, "ctcae_term": grade.ctcae_term,
                  "meddra_code": grade.meddra_code, "composite_grade": grade.composite_grade}
        symptoms.append({"rule": finding.rule, "term_number": finding.term_number, "term": finding.term,
                         "item_code": finding.item_code, "detail": detail})
    top = symptoms[0]
    alert = SymptomAlert(id=new_id(), patient_id=patient.id, site_id=patient.site_id, report=report,
                         rule=top["rule"], term_number=top["term_number"], term=top["term"],
                         item_code=top["item_code"], detail=top["detail"], symptoms=symptoms, status="open")
    db.session.add(alert)
    db.session.flush()
    notify_site_staff(patient.site, "nurse", "staff.symptom_alert",
                      {"subject_id": patient.subject_id, "symptoms": finding_words(symptoms),
                       "alert_id": str(alert.id), "report_id": str(report.id)},
                      dedupe_key=f"alert:{alert.id}", patient_id=patient.id)
    return [alert]


def finding_words(symptoms: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a staff message needs to put each finding in words in the reader's language
    (`notifications.messages`): the term, the rule and the number that fired."""
    words = []
    for symptom in symptoms:
        detail = symptom["detail"]
        level = {"composite_grade": detail.get("composite_grade"), "severe_symptom": detail.get("value"),
                 "worsening": detail.get("rise")}.get(symptom["rule"])
        against = detail.get("against") or []
        words.append({"term": symptom["term"], "rule": symptom["rule"], "level": level,
                      "since": "first" if against == ["first"] else "previous"})
    return words


def _baselines(patient_id: uuid.UUID, report: SymptomReport) -> tuple[SymptomReport | None, SymptomReport | None]:
    """The patient's first and previous reports completed before this one."""
    earlier = sa.select(SymptomReport).where(SymptomReport.patient_id == patient_id,
                                              SymptomReport.completed_at < report.completed_at,
                                              SymptomReport.id != report.id)
    first = db.session.scalar(earlier.order_by(SymptomReport.completed_at.asc()).limit(1))
    previous = db.session.scalar(earlier.order_by(SymptomReport.completed_at.desc()).limit(1))
    return first, previous


# --- reading -----------------------------------------------------------------------------------
def alerts_query(principal: Principal, site_code: str | None, status: str | None):
    """The alerts the caller may see, newest first; optionally of one site and one status.

    A site the caller may not see answers 404, exactly like one that does not exist.
    """
    stmt = (sa.select(SymptomAlert).join(Site, SymptomAlert.site_id == Site.id)
            .where(site_filter(principal, SymptomAlert.site_id, Site.study_id))
            .order_by(SymptomAlert.created_at.desc(), SymptomAlert.id))
    if site_code:
        stmt = stmt.where(SymptomAlert.site_id == site_by_code(principal, site_code).id)
    if status:
        stmt = stmt.where(SymptomAlert.status == status)
    return stmt


def open_alerts_for_site(site_id: uuid.UUID) -> list[SymptomAlert]:
    """A site's open alerts, longest waiting first (for the site worklist; the caller checks scope)."""
    return list(db.session.scalars(
        sa.select(SymptomAlert).where(SymptomAlert.site_id == site_id, SymptomAlert.status == "open")
        .order_by(SymptomAlert.created_at, SymptomAlert.id)))


def visible_alert(principal: Principal, raw_id: str, *, lock: bool = False) -> SymptomAlert:
    stmt = sa.select(SymptomAlert).where(SymptomAlert.id == parse_id(raw_id, "alert"))
    if lock:
        stmt = stmt.with_for_update(of=SymptomAlert)
    alert = db.session.scalar(stmt)
    if alert is None or not can_see_site(principal, alert.site):
        raise NotFound("No such alert.")
    return alert


# --- acting ------------------------------------------------------------------------------------
def acknowledge_alert(principal: Principal, raw_id: str, action: str, *, now: datetime | None = None) -> SymptomAlert:
    """Record who acknowledged the alert, when, and the action taken; the alert is closed.

    An alert already closed is a conflict (409 `alert_closed`), so two nurses acting at once cannot
    overwrite each other's record (the row is locked while it is checked).
    """
    alert = visible_alert(principal, raw_id, lock=True)
    if alert.status == "closed":
        raise Conflict("The alert is already closed.", reason="alert_closed")
    alert.status = "closed"
    alert.acknowledged_by_id = principal.user_id
    alert.acknowledged_at = now or utcnow()
    alert.action = action
    db.session.info[REASON_KEY] = "symptom alert acknowledged"
    db.session.commit()
    return alert


def escalate_overdue_alerts(now: datetime) -> list[SymptomAlert]:
    """Escalate every alert left open longer than its study's limit; idempotent.

    Each overdue alert gets `escalated_at` once and one `staff.alert_escalated` message per study
    coordinator (dedupe key `alert-escalated:<id>`). Alerts being escalated by a concurrent run are
    skipped (row locks). One commit for the whole run. A study whose limit setting is unusable is
    logged and uses the default, so one bad setting does not stop the others' escalations.
    """
    alerts = list(db.session.scalars(
        sa.select(SymptomAlert).where(SymptomAlert.status == "open", SymptomAlert.escalated_at.is_(None))
        .order_by(SymptomAlert.created_at).with_for_update(of=SymptomAlert, skip_locked=True)))
    escalated = []
    db.session.info[REASON_KEY] = "symptom alert open longer than the study's escalation limit"
    try:
        for alert in alerts:
            hours = _escalation_hours_or_default(alert.site.study)
            if alert.created_at + timedelta(hours=hours) > now:
                continue
            alert.escalated_at = now
            notify_site_staff(alert.site, "coordinator", "staff.alert_escalated",
                              _escalation_params(alert, hours), dedupe_key=f"alert-escalated:{alert.id}",
                              patient_id=alert.patient_id)
            escalated.append(alert)
        db.session.commit()
    finally:
        db.session.info.pop(REASON_KEY, None)
    return escalated


def _escalation_hours_or_default(study: Study) -> float:
    try:
        return escalation_hours(study)
    except StudySettingsInvalid as error:
        log.warning("%s Using %s hours.", error.message, DEFAULT_ESCALATION_HOURS)
        return DEFAULT_ESCALATION_HOURS


def _escalation_params(alert: SymptomAlert, hours: float) -> dict[str, Any]:
    return {"subject_id": alert.patient.subject_id, "symptoms": finding_words(alert.symptoms),
            "minutes": int(hours * 60), "alert_id": str(alert.id)}
