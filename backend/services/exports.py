"""CSV exports of a study for statisticians: PFS, OS and DoR time-to-event (ADaM ADTTE style) and subject visits.

ADTTE follows the CDISC ADaM Basic Data Structure for time-to-event (ADaM IG v1.1 / ADTTE 2012):
one row per subject and parameter, ``AVAL`` the time in days from ``STARTDT`` (first dose, day 1) to
``ADT`` inclusive, ``CNSR`` 0 for an event and the contract's positive code for a censoring,
``EVNTDESC`` what happened and ``CNSDTDSC`` where a censoring date comes from: the date it names is
always filled (``LADQDT`` for the last adequate assessment, ``STARTDT`` for the first dose). One data
cut-off per export (``DATACUTDT``, the same on every row; default today, UTC).

Each parameter is a function returning one row (`ADTTE_PARAMETERS`). Every PFS row comes from `services.pfs.derive_many`, the derivation behind GET /patients/{id}/pfs, and
every OS and DOR row (DOR for confirmed responders only, from the first response) from
`services.results.derive_results`, behind GET /patients/{id}/response, so the export and the
endpoints always agree on the same date. Cells that a spreadsheet would run as a
formula (starting with = + - @) are quoted with a leading apostrophe (OWASP "CSV injection").
"""
from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from backend.auth import Principal
from backend.extensions import db
from backend.models import Event, Patient, Site, Study
from backend.models.base import utcnow
from backend.services.assessments import site_today
from backend.services.calendar_events import state_of
from backend.services.pfs import derive_many
from backend.services.results import PatientResult, derive_results
from backend.services.studies import study_by_code

#: CONTRACT.md "Results": exactly these columns, in this order.
ADTTE_COLUMNS = ("STUDYID", "USUBJID", "SUBJID", "SITEID", "PARAMCD", "PARAM", "STARTDT", "ADT", "AVAL", "AVALU",
                 "CNSR", "EVNTDESC", "CNSDTDSC", "LADQDT", "DATACUTDT")
VISIT_COLUMNS = ("STUDYID", "USUBJID", "SUBJID", "SITEID", "EVENTID", "KIND", "VISIT", "CYCLE", "DAY", "PROTDT",
                 "PLANDT", "WINSTDT", "WINENDT", "ACTDT", "STATUS", "INWINFL", "PFSVSTAT", "STATE", "DAYSOVER",
                 "FLAGS")
VISIT_KINDS = ("dose", "tumor_assessment", "symptom_survey")

EVENT_DESCRIPTIONS = {
    "progression": "DISEASE PROGRESSION",
    "death": "DEATH",
    "ongoing": "CENSORED: NO PROGRESSION OR DEATH",
    "no_baseline": "CENSORED: NO BASELINE TUMOUR ASSESSMENT",
    "new_anticancer_therapy": "CENSORED: NEW ANTICANCER THERAPY",
    "missed_assessments": "CENSORED: EVENT AFTER TWO OR MORE MISSED ASSESSMENTS",
    "follow_up_ended": "CENSORED: END OF TUMOUR FOLLOW-UP",
}
CENSOR_DATE_SOURCES = {
    "ongoing": "LAST ADEQUATE TUMOUR ASSESSMENT",
    "no_baseline": "FIRST DOSE",
    "new_anticancer_therapy": "LAST ADEQUATE TUMOUR ASSESSMENT BEFORE NEW ANTICANCER THERAPY",
    "missed_assessments": "LAST ADEQUATE TUMOUR ASSESSMENT BEFORE THE MISSED ASSESSMENTS",
    "follow_up_ended": "LAST ADEQUATE TUMOUR ASSESSMENT",
}
OS_DESCRIPTIONS = {"death": "DEATH", "ongoing": "CENSORED: ALIVE AT LAST CONTACT"}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def usubjid(study: Study, patient: Patient) -> str:
    """Unique across studies: the study code and the subject id (unique within the study)."""
    return f"{study.code}-{patient.subject_id}"


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _csv(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row[c]) for c in columns])
    return out.getvalue()


def _patients(study: Study) -> list[Patient]:
    return list(db.session.scalars(sa.select(Patient).join(Site, Site.id == Patient.site_id)
                                   .where(Patient.study_id == study.id).order_by(Site.code, Patient.subject_id)))


def default_cutoff() -> date:
    """One data cut-off for a whole export when none is given: today (UTC)."""
    return utcnow().date()


@dataclass(frozen=True)
class AdtteInputs:
    """What the parameter functions read, loaded once per export."""

    study: Study
    cutoff: date
    pfs: dict[Any, tuple[date, Any]]
    outcomes: dict[Any, PatientResult]


def _censor_source(reason: str, last_adequate: date | None) -> str:
    """Where the censoring date comes from: a censoring with no adequate assessment to fall back on
    is at the first dose (FDA 2018 PFS guidance, table of censoring rules)."""
    if reason == "no_baseline" or last_adequate is None:
        return "FIRST DOSE"
    return CENSOR_DATE_SOURCES[reason]


def pfs_parameter(patient: Patient, inputs: AdtteInputs) -> dict[str, Any]:
    """PARAMCD PFS: GET /patients/{id}/pfs?as_of=<cutoff> as one ADTTE row."""
    _, result = inputs.pfs[patient.id]
    censored = result.cnsr != 0
    return {
        "PARAMCD": "PFS", "PARAM": "Progression-free survival (days)", "STARTDT": patient.first_dose_date,
        "ADT": result.date, "AVAL": result.days, "AVALU": "DAYS", "CNSR": result.cnsr,
        "EVNTDESC": EVENT_DESCRIPTIONS[result.reason],
        "CNSDTDSC": _censor_source(result.reason, result.last_adequate_assessment) if censored else "",
        "LADQDT": result.last_adequate_assessment,
    }


def _tte_row(paramcd: str, param: str, start: date, tte: Any, events: dict[str, str],
             censor_source: str) -> dict[str, Any]:
    return {
        "PARAMCD": paramcd, "PARAM": param, "STARTDT": start, "ADT": tte.date, "AVAL": tte.days, "AVALU": "DAYS",
        "CNSR": tte.cnsr, "EVNTDESC": events.get(tte.reason, ""), "CNSDTDSC": censor_source if tte.cnsr else "",
        "LADQDT": getattr(tte, "last_adequate_assessment", None),
    }


def os_parameter(patient: Patient, inputs: AdtteInputs) -> dict[str, Any] | None:
    """PARAMCD OS from the first dose: GET /patients/{id}/response?cutoff= `os`."""
    result = inputs.outcomes.get(patient.id)
    if result is None:
        return None
    return _tte_row("OS", "Overall survival (days)", patient.first_dose_date, result.os, OS_DESCRIPTIONS,
                    "LAST DATE KNOWN ALIVE")


def dor_parameter(patient: Patient, inputs: AdtteInputs) -> dict[str, Any] | None:
    """PARAMCD DOR of a confirmed responder from the first response: GET /patients/{id}/response `dor`."""
    result = inputs.outcomes.get(patient.id)
    if result is None or result.dor is None or result.best.first_response_date is None:
        return None
    dor = result.dor
    return _tte_row("DOR", "Duration of response (days)", result.best.first_response_date, dor, EVENT_DESCRIPTIONS,
                    CENSOR_DATE_SOURCES.get(dor.reason, ""))


#: One function per ADTTE parameter, each returning the parameter's row for a patient (or None).
ADTTE_PARAMETERS: tuple[Callable[[Patient, AdtteInputs], dict[str, Any] | None], ...] = (
    pfs_parameter, os_parameter, dor_parameter)


def adtte_rows(study: Study, cutoff: date | None = None) -> list[dict[str, Any]]:
    cutoff = cutoff or default_cutoff()
    patients = _patients(study)
    inputs = AdtteInputs(study=study, cutoff=cutoff, pfs=derive_many(patients, cutoff),
                         outcomes=derive_results(patients, cutoff))
    rows = []
    for patient in patients:
        keys = {"STUDYID": study.code, "USUBJID": usubjid(study, patient), "SUBJID": patient.subject_id,
                "SITEID": patient.site.code}
        for parameter in ADTTE_PARAMETERS:
            row = parameter(patient, inputs)
            if row is not None:
                rows.append({**keys, **row, "DATACUTDT": cutoff})
    return rows


def adtte_csv(principal: Principal, code: str, cutoff: date | None = None) -> str:
    return _csv(ADTTE_COLUMNS, adtte_rows(study_by_code(principal, code), cutoff))


def subject_visits_csv(principal: Principal, code: str, cutoff: date | None = None) -> str:
    """One row per visit: planned and actual date, window, status; scans with their PFS visit status.

    ``STATUS`` is what was recorded; ``STATE`` and ``DAYSOVER`` are the event's derived state and days
    overdue on ``cutoff`` (default each site's today), exactly as the calendar shows them."""
    study = study_by_code(principal, code)
    patients = _patients(study)
    results = derive_many(patients, cutoff)
    events: dict[Any, list[Event]] = defaultdict(list)
    if patients:
        for event in db.session.scalars(sa.select(Event).where(
                Event.patient_id.in_([p.id for p in patients]), Event.kind.in_(VISIT_KINDS))):
            events[event.patient_id].append(event)
    rows = []
    for patient in patients:
        today = cutoff or site_today(patient.site)
        pfs_status = {f"assessment:{v.number}": v.status for v in results[patient.id][1].visits}
        for event in sorted(events[patient.id], key=lambda e: (e.target_date, VISIT_KINDS.index(e.kind), e.key)):
            state = state_of(event, today)
            in_window = (("Y" if event.window_start <= event.actual_date <= event.window_end else "N")
                         if event.actual_date else "")
            rows.append({
                "STUDYID": study.code, "USUBJID": usubjid(study, patient), "SUBJID": patient.subject_id,
                "SITEID": patient.site.code, "EVENTID": str(event.id), "KIND": event.kind, "VISIT": event.label,
                "CYCLE": event.cycle, "DAY": event.day, "PROTDT": event.protocol_date, "PLANDT": event.target_date,
                "WINSTDT": event.window_start, "WINENDT": event.window_end, "ACTDT": event.actual_date,
                "STATUS": event.status, "INWINFL": in_window,
                "PFSVSTAT": pfs_status.get(event.key, "") if event.kind == "tumor_assessment" else "",
                "STATE": state.state, "DAYSOVER": state.days_overdue, "FLAGS": " ".join(sorted(event.flags or ())),
            })
    return _csv(VISIT_COLUMNS, rows)
