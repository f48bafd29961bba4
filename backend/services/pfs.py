"""Progression-free survival of patients, and the early warning that protects it.

The rules are `schedules.pfs` (FDA 2018 censoring table, RECIST 1.1); this module only loads the
data, builds the study's assessment schedule and calls them. Every consumer — the PFS endpoint, the
early-warning scan, the site worklist, the compliance report and the ADTTE export — goes through
`derive_many`, so they always agree.

Dates are judged in the site's zone: the default evaluation date is today at the site.

Which visits are evaluated: every visit whose window has opened by the evaluation date, and the
next one (shown ``upcoming`` while follow-up runs; it also gives the early warning its deadline).
"""
from __future__ import annotations

import json
import operator
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa

from backend.auth import Principal
from backend.errors import InvalidInput
from backend.extensions import db
from backend.models import Event, Patient, PatientOutcome, Study, TumourAssessment
from backend.auth import visible_patient
from backend.services.assessments import ON_STUDY, site_today
from backend.services.bulk_reads import CHUNK, chunks, core_connection, ids_filter
from backend.services.notifications import notify_site_staff
from schedules import pfs, pfs_assessments

AT_RISK_MESSAGE = "staff.pfs_at_risk"
DEADLINE_NEAR_MESSAGE = "staff.pfs_deadline_near"
DEADLINE_NEAR_DAYS = 7


@dataclass(frozen=True)
class History:
    """What `schedules.pfs` needs about one patient, loaded in bulk."""

    assessments: tuple[pfs_assessments.Assessment, ...] = ()
    outcomes: tuple[pfs.Outcome, ...] = ()


def assessment_plan(study: Study) -> pfs_assessments.AssessmentPlan:
    phases = tuple((None if until is None else int(until), int(interval))
                   for until, interval in (study.assessment_phases or ()))
    return pfs_assessments.AssessmentPlan(study.assessment_interval_days, study.assessment_window_days, phases)


def schedule_for(study: Study, first_dose: date, as_of: date,
                 plan: pfs_assessments.AssessmentPlan | None = None) -> tuple[pfs_assessments.ScheduledAssessment, ...]:
    """Visits whose window opened by ``as_of``, and the next one."""
    plan = plan or assessment_plan(study)
    longest = max([plan.interval_days, *(interval for _, interval in plan.phases)])
    visits = plan.visits(first_dose, as_of + timedelta(days=longest + plan.window_days))
    opened = [v for v in visits if v.window_start <= as_of]
    following = [v for v in visits if v.window_start > as_of][:1]
    return tuple(opened + following)


def load_histories(patient_ids: Iterable[uuid.UUID],
                   among: sa.ColumnElement[bool] | None = None) -> dict[uuid.UUID, History]:
    """Assessments and outcomes of many patients: two queries (per chunk of patients), only the columns
    `schedules.pfs` reads, as plain tuples (no ORM objects).

    ``among``, a condition on `Patient` that every one of the patients meets (their site, say), reads the
    histories by joining the patients on it instead of sending the ids: one statement per table whatever the
    number of patients, rows of other patients it matches skipped."""
    ids = list(patient_ids)
    # Rows name their patient as text (the database's spelling of the id): 10,000 rows are then not 10,000
    # UUID objects built and hashed in Python.
    spelled = _id_text()
    assessments: dict[str, list[pfs_assessments.Assessment]] = {spelled(pid): [] for pid in ids}
    outcomes: dict[str, list[pfs.Outcome]] = {key: [] for key in assessments}
    ta, po = TumourAssessment, PatientOutcome
    # most assessments list no scan dates: decode the JSON only where there are some
    read_assessments = sa.select(sa.cast(ta.patient_id, sa.Text), ta.date, ta.overall_response, ta.baseline,
                                 ta.new_lesion_date, sa.func.nullif(sa.cast(ta.scan_dates, sa.Text), "[]"))
    read_outcomes = sa.select(sa.cast(po.patient_id, sa.Text), po.type, po.date)
    if among is not None:
        statements = [(read_assessments.join(Patient, Patient.id == ta.patient_id).where(among),
                       read_outcomes.join(Patient, Patient.id == po.patient_id).where(among))] if ids else []
    else:
        statements = [(read_assessments.where(ids_filter(ta.patient_id, chunk)),
                       read_outcomes.where(ids_filter(po.patient_id, chunk))) for chunk in chunks(ids)]
    connection = core_connection()
    for assessments_of, outcomes_of in statements:
        for pid, day, overall, baseline, new_lesion, scans in connection.execute(assessments_of).all():
            if (found := assessments.get(pid)) is not None:
                found.append(pfs_assessments.Assessment(day, overall, baseline, new_lesion,
                                            tuple(date.fromisoformat(d) for d in json.loads(scans) or ())
                                            if scans else ()))
        for pid, kind, day in connection.execute(outcomes_of).all():
            if (found := outcomes.get(pid)) is not None:
                found.append(pfs.Outcome(kind, day))
    return {pid: History(tuple(assessments[key]), tuple(outcomes[key]))
            for pid, key in zip(ids, map(spelled, ids))}


def _id_text() -> Callable[[uuid.UUID], str]:
    """How the database spells a patient id cast to text: PostgreSQL's uuid type the hyphenated form,
    SQLAlchemy's `Uuid` elsewhere 32 hex digits."""
    if db.session.get_bind().dialect.name == "postgresql":
        return str
    return operator.attrgetter("hex")


def derive(patient: Patient, history: History, as_of: date, plan: pfs_assessments.AssessmentPlan | None = None) -> pfs.PfsResult:
    study = patient.study
    plan = plan or assessment_plan(study)
    return pfs.derive_pfs(
        patient.first_dose_date,
        schedule_for(study, patient.first_dose_date, as_of, plan),
        history.assessments,
        history.outcomes,
        as_of,
        missed_rule=study.pfs_missed_rule,
        interval_days=study.assessment_interval_days,
        window_days=study.assessment_window_days,
        phases=plan.phases,
    )


def evaluation_date(patient: Patient, as_of: date | None, now: datetime | None = None) -> date:
    """``as_of`` when given, else today at the patient's site; never before the first dose."""
    return max(as_of or site_today(patient.site, now), patient.first_dose_date)


def derive_many(patients: Sequence[Patient], as_of: date | None = None, now: datetime | None = None,
                histories: dict[uuid.UUID, History] | None = None) -> dict[uuid.UUID, tuple[date, pfs.PfsResult]]:
    """(evaluation date, PFS) of each patient, with the data loaded in bulk (or given, already loaded);
    each study's assessment plan is built once."""
    histories = histories if histories is not None else load_histories(p.id for p in patients)
    plans: dict[Any, pfs_assessments.AssessmentPlan] = {}
    result = {}
    for patient in patients:
        day = evaluation_date(patient, as_of, now)
        plan = plans.get(patient.study.id) or plans.setdefault(patient.study.id, assessment_plan(patient.study))
        result[patient.id] = (day, derive(patient, histories[patient.id], day, plan))
    return result


@dataclass(frozen=True)
class CalendarScan:
    """A tumour-assessment event of the calendar, as PFS visits show it."""

    event_id: uuid.UUID
    protocol_date: date
    target_date: date


def calendar_scans(patient_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, dict[int, CalendarScan]]:
    """Each patient's tumour-assessment events by visit number (`assessment:{k}`), one query per chunk."""
    ids = list(patient_ids)
    scans: dict[uuid.UUID, dict[int, CalendarScan]] = {pid: {} for pid in ids}
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        for row in db.session.execute(
                sa.select(Event.patient_id, Event.key, Event.id, Event.protocol_date, Event.target_date)
                .where(Event.patient_id.in_(chunk), Event.kind == "tumor_assessment")):
            number = row.key.removeprefix("assessment:")
            if number.isdigit():
                scans[row.patient_id][int(number)] = CalendarScan(row.id, row.protocol_date, row.target_date)
    return scans


def visit_body(visit: pfs_assessments.VisitStatus, scans: dict[int, CalendarScan]) -> dict[str, Any]:
    """A PFS visit as the contract shows it: the calendar's `event_id`, `protocol_date` and
    `target_date` (the open day it is planned for). The imaging clock's protocol date is the one
    PFS judges windows around; a visit the calendar does not hold (beyond its planning horizon)
    shows that date as both, and no event id."""
    scan = scans.get(visit.number)
    body = visit.to_dict()
    body["protocol_date"] = scan.protocol_date if scan else visit.target_date
    body["target_date"] = scan.target_date if scan else visit.target_date
    body["event_id"] = str(scan.event_id) if scan else None
    return body


def pfs_body(patient: Patient, day: date, result: pfs.PfsResult,
             scans: dict[int, CalendarScan] | None = None) -> dict[str, Any]:
    """The contract's PFS body, with who and when it was evaluated for."""
    if scans is None:
        scans = calendar_scans([patient.id])[patient.id]
    body = {"patient_id": str(patient.id), "subject_id": patient.subject_id, "as_of": day, **result.to_dict()}
    body["visits"] = [visit_body(visit, scans) for visit in result.visits]
    return body


def patient_pfs(principal: Principal, patient_id: str, as_of: date | None) -> dict[str, Any]:
    patient = visible_patient(principal, patient_id)
    if as_of is not None and as_of < patient.first_dose_date:
        raise InvalidInput("as_of", f"PFS is evaluated from the first dose ({patient.first_dose_date}).",
                           location="query")
    day, result = derive_many([patient], as_of)[patient.id]
    return pfs_body(patient, day, result)


# --- early warning ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ScanSummary:
    patients: int
    at_risk: int
    queued: int


def scan_pfs_risk(now: datetime | None = None) -> ScanSummary:
    """Warn each site's nurses about on-study patients whose PFS is at risk; run daily.

    A patient at risk (one missed visit under the ``visits`` rule, or a gap since the last adequate
    scan under ``gap``: `schedules.pfs._early_warning`) triggers ``staff.pfs_at_risk`` once per
    protect deadline, and ``staff.pfs_deadline_near`` once when the deadline is at most 7 days
    away. When no deadline is left (two visits missed, or the gap already too long: a progression
    found now would be censored) the at-risk message says the scan is due today, once per last
    adequate assessment. The outbox's dedupe keys make reruns harmless. One commit at the end.
    """
    now = now or datetime.now(timezone.utc)
    if now.tzinfo is None:
        raise ValueError("scan_pfs_risk needs an aware instant")
    ids = list(db.session.scalars(sa.select(Patient.id).where(Patient.status.in_(ON_STUDY))
                                  .order_by(Patient.id)))
    at_risk = queued = 0
    for start in range(0, len(ids), CHUNK):
        patients = {p.id: p for p in db.session.scalars(
            sa.select(Patient).where(Patient.id.in_(ids[start:start + CHUNK])))}
        for patient_id, (today, result) in derive_many(list(patients.values()), None, now).items():
            if result.at_risk:
                at_risk += 1
                queued += _warn(patients[patient_id], today, result)
    db.session.commit()
    return ScanSummary(len(ids), at_risk, queued)


def _warn(patient: Patient, today: date, result: pfs.PfsResult) -> int:
    deadline = result.protect_deadline
    params = {"subject_id": patient.subject_id, "site": patient.site.code,
              "deadline": (deadline or today).isoformat()}
    if deadline is None:
        anchor = result.last_adequate_assessment or patient.first_dose_date
        return notify_site_staff(patient.site, "nurse", AT_RISK_MESSAGE, params, patient_id=patient.id,
                                 dedupe_key=f"pfs-at-risk:{patient.id}:overdue:{anchor.isoformat()}")
    queued = notify_site_staff(patient.site, "nurse", AT_RISK_MESSAGE, params, patient_id=patient.id,
                               dedupe_key=f"pfs-at-risk:{patient.id}:{deadline.isoformat()}")
    if today <= deadline <= today + timedelta(days=DEADLINE_NEAR_DAYS):
        queued += notify_site_staff(patient.site, "nurse", DEADLINE_NEAR_MESSAGE, params, patient_id=patient.id,
                                    dedupe_key=f"pfs-deadline-near:{patient.id}:{deadline.isoformat()}")
    return queued
