"""The study's safety table: treatment-emergent adverse events and PRO-CTCAE worst grades.

The rules are `schedules.safety` (CTCAE v5.0, the 30-day TEAE window, PRO-CTCAE composite grades);
this module loads adverse events, last doses and symptom reports in bulk for the patients in the
caller's scope and calls them. The endpoint and the ADAE summary export both use `safety_tables`.
"""
from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timezone
from typing import Any

import sqlalchemy as sa

from backend.auth import Principal
from backend.extensions import db
from backend.models import AdverseEvent, Patient, SymptomReport
from backend.services import pfs as pfs_service
from backend.services.results import last_doses, study_patients
from schedules import safety



def _safety_patients(patients: Sequence[Patient], cutoff: date) -> list[safety.SafetyPatient]:
    ids = [p.id for p in patients]
    events: dict[uuid.UUID, list[safety.AdverseEventRecord]] = defaultdict(list)
    symptoms: dict[uuid.UUID, list[safety.SymptomGrade]] = defaultdict(list)
    connection = pfs_service.core_connection()  # only the columns the rules read
    for chunk in pfs_service.chunks(ids):
        for pid, *record in connection.execute(
                sa.select(AdverseEvent.patient_id, AdverseEvent.ctcae_term, AdverseEvent.soc, AdverseEvent.grade,
                          AdverseEvent.onset_date, AdverseEvent.serious, AdverseEvent.action_taken)
                .where(pfs_service.ids_filter(AdverseEvent.patient_id, chunk),
                       AdverseEvent.onset_date <= cutoff)).all():
            events[pid].append(safety.AdverseEventRecord(*record))
        symptoms.update(_worst_symptoms(chunk, cutoff))
    doses = last_doses(ids, cutoff)
    return [safety.SafetyPatient(p.regimen, p.first_dose_date, doses.get(p.id), tuple(events[p.id]),
                                 tuple(symptoms[p.id])) for p in patients]


def _worst_symptoms(ids: Sequence[uuid.UUID], cutoff: date) -> dict[uuid.UUID, list[safety.SymptomGrade]]:
    """Each patient's worst composite grade per PRO-CTCAE term after the first-dose day, by the cut-off,
    aggregated by PostgreSQL (one row per patient and term, not one per report), with the day of the latest
    such report; a patient whose post-baseline reports graded nothing gets one ungraded entry, so that
    `schedules.safety` still counts them among the reporting patients."""
    element = sa.func.json_array_elements(SymptomReport.symptoms).table_valued("value").alias("symptom")
    term = element.c.value.op("->>")("term")
    grade = sa.cast(element.c.value.op("->>")("composite_grade"), sa.Integer)
    post_baseline = (pfs_service.ids_filter(SymptomReport.patient_id, ids), SymptomReport.local_date <= cutoff,
                     SymptomReport.local_date > Patient.first_dose_date)
    found: dict[uuid.UUID, list[safety.SymptomGrade]] = defaultdict(list)
    connection = pfs_service.core_connection()
    for pid, name, worst, day in connection.execute(
            sa.select(SymptomReport.patient_id, term, sa.func.max(grade), sa.func.max(SymptomReport.local_date))
            .join(Patient, Patient.id == SymptomReport.patient_id).join(element, sa.true())
            .where(*post_baseline).group_by(SymptomReport.patient_id, term)).all():
        found[pid].append(safety.SymptomGrade(str(name), day, worst))
    for pid, day in connection.execute(
            sa.select(SymptomReport.patient_id, sa.func.max(SymptomReport.local_date))
            .join(Patient, Patient.id == SymptomReport.patient_id).where(*post_baseline)
            .group_by(SymptomReport.patient_id)).all():
        if pid not in found:
            found[pid].append(safety.SymptomGrade("", day, None))
    return found


def default_cutoff(patients: Sequence[Patient]) -> date:
    """The latest today among the patients' sites (as the efficacy view), today in UTC without patients."""
    days = {pfs_service.evaluation_date(p, None) for p in patients}
    return max(days, default=datetime.now(timezone.utc).date())


def safety_tables(patients: Sequence[Patient], cutoff: date | None) -> dict[str, Any]:
    """The table overall and per regimen, on one cut-off."""
    day = cutoff or default_cutoff(patients)
    group = _safety_patients(patients, day)
    by_regimen = [{"regimen": name, **safety.safety_table([p for p in group if p.regimen == name], day)}
                  for name in sorted({p.regimen for p in group if p.first_dose <= day})]
    return {"cutoff": day, **safety.safety_table(group, day), "by_regimen": by_regimen}


def study_safety(principal: Principal, code: str, cutoff: date | None, regimen: str | None) -> dict[str, Any]:
    _, patients = study_patients(principal, code, regimen)
    return safety_of(patients, cutoff, regimen)


def safety_of(patients: Sequence[Patient], cutoff: date | None, regimen: str | None) -> dict[str, Any]:
    """`study_safety` for patients already loaded."""
    return {"regimen": regimen, **safety_tables(patients, cutoff)}
