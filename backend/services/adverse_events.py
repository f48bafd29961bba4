"""Adverse events graded by clinicians on NCI CTCAE v5.0 (27 November 2017).

Rules and their sources:
- The term is a CTCAE v5.0 term, named or given by its MedDRA LLT code as NCI ships it
  (`schedules.ctcae`); the stored term, code and SOC are NCI's.
- The grade must be one CTCAE v5.0 defines for the term: a "-" cell means the grade does not exist
  for it (NCI CTCAE v5.0, "Grades"; e.g. Alopecia has grades 1 and 2 only).
- Resolution cannot precede onset, and onset cannot be later than today at the site.
- `source_report_id`, when given, is a symptom report of the same patient.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from backend.auth import Principal, visible_patient
from backend.errors import InvalidInput
from backend.services.plausibility import check_clinical_date
from backend.extensions import db
from backend.models import AdverseEvent, Patient, SymptomReport
from backend.models.base import utcnow
from backend.models.audit import REASON_KEY
from backend.services.calendars import local_today
from backend.services.studies import site_by_code
from schedules.ctcae import CtcaeTerm, GradeNotDefined, UnknownCtcaeTerm, term_by_code, term_by_name, validate_grade


def record_adverse_event(principal: Principal, raw_patient_id: str, data: dict[str, Any],
                         *, now: datetime | None = None) -> AdverseEvent:
    """Check the clinician's grading against CTCAE v5.0 and store the adverse event (audited)."""
    patient = visible_patient(principal, raw_patient_id)
    term = _term(data)
    try:
        validate_grade(term, data["grade"])
    except GradeNotDefined as error:
        allowed = ", ".join(str(grade) for grade in error.allowed)
        raise InvalidInput("grade", f"CTCAE v5.0 {term.term!r} has no grade {data['grade']}; "
                           f"allowed grades: {allowed}.", reason="grade_not_defined") from None
    _check_dates(patient, data, now or utcnow())
    source = _source_report(patient, data.get("source_report_id"))
    event = AdverseEvent(
        patient_id=patient.id, site_id=patient.site_id, ctcae_term=term.term, meddra_code=term.meddra_code,
        soc=term.soc, grade=data["grade"], onset_date=data["onset_date"], resolved_date=data.get("resolved_date"),
        serious=data["serious"], related=data["related"], action_taken=data["action_taken"],
        source_report_id=source.id if source else None, recorded_by_id=principal.user_id,
    )
    db.session.add(event)
    db.session.info[REASON_KEY] = (f"adverse event recorded: {term.term} grade {data['grade']}"
                                   + (" (serious)" if data["serious"] else ""))
    db.session.commit()
    return event


def _term(data: dict[str, Any]) -> CtcaeTerm:
    """The CTCAE term by name or MedDRA code; when both are given they must be the same term."""
    by_name = by_code = None
    if data.get("ctcae_term"):
        try:
            by_name = term_by_name(data["ctcae_term"])
        except UnknownCtcaeTerm:
            raise InvalidInput("ctcae_term", f"{data['ctcae_term']!r} is not a CTCAE v5.0 term.",
                               reason="unknown_ctcae_term") from None
    if data.get("meddra_code"):
        try:
            by_code = term_by_code(data["meddra_code"])
        except UnknownCtcaeTerm:
            raise InvalidInput("meddra_code", f"{data['meddra_code']!r} is not the MedDRA code of a CTCAE v5.0 term.",
                               reason="unknown_ctcae_term") from None
    if by_name and by_code and by_name is not by_code:
        raise InvalidInput("meddra_code", f"{by_code.meddra_code} is {by_code.term!r}, not {by_name.term!r}.")
    term = by_name or by_code
    if term is None:
        raise InvalidInput("ctcae_term", "Give ctcae_term or meddra_code.")
    return term


def _check_dates(patient: Patient, data: dict[str, Any], now: datetime) -> None:
    today_at_site = local_today(patient.site.timezone, now)
    if data["onset_date"] > today_at_site:
        raise InvalidInput("onset_date", f"Onset cannot be after today at the site ({today_at_site.isoformat()}).")
    resolved = data.get("resolved_date")
    if resolved is not None and resolved < data["onset_date"]:
        raise InvalidInput("resolved_date", "An adverse event cannot resolve before its onset.")
    # Plausible for the patient (schedules.plausibility): present at screening at the earliest.
    check_clinical_date(patient, data["onset_date"], "onset_date", screening=True, today=today_at_site)
    check_clinical_date(patient, resolved, "resolved_date", screening=True, today=today_at_site)


def _source_report(patient: Patient, report_id) -> SymptomReport | None:
    if report_id is None:
        return None
    report = db.session.get(SymptomReport, report_id)
    if report is None or report.patient_id != patient.id:
        raise InvalidInput("source_report_id", "No symptom report with this id for this patient.")
    return report


def patient_adverse_events_query(principal: Principal, raw_patient_id: str):
    """A patient's adverse events, latest onset first."""
    patient = visible_patient(principal, raw_patient_id)
    return _ordered(sa.select(AdverseEvent).where(AdverseEvent.patient_id == patient.id))


def site_adverse_events_query(principal: Principal, site_code: str):
    """A site's adverse events, latest onset first; a site out of scope is 404 like a missing one."""
    site = site_by_code(principal, site_code)
    return _ordered(sa.select(AdverseEvent).where(AdverseEvent.site_id == site.id))


def _ordered(stmt):
    return stmt.order_by(AdverseEvent.onset_date.desc(), AdverseEvent.created_at.desc(), AdverseEvent.id)
