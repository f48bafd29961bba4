"""PRO-CTCAE symptom reporting: the item library per locale, submitting a report, listing reports.

Rules and their sources:
- Items, branching, answer rules and composite grades: `schedules.proctcae`, `proctcae_answers` and
  `proctcae_grades` (NCI PRO-CTCAE item library v1.0; Basch et al., Clin Trials 2021;18(1):104-114).
- Other languages only from NCI's official translations, supplied as `<locale>.json` files in the
  directory named by `PRO_CTCAE_TRANSLATIONS_DIR` (PRO-CTCAE terms of use,
  `schedules/reference/README.md`); without one the library is answered in English and says so.
- A study chooses its panel in `Study.settings["symptom_panel"]` (PRO-CTCAE term numbers); the
  default is `DEFAULT_HER2_PANEL`.
- A report is idempotent on (patient, `client_report_id`) (CONTRACT.md "Symptoms"): a replay answers
  the stored report and writes nothing; the same id with other content is a conflict.
- A report completes the planned `symptom_survey` event whose window contains the report's local
  date in the patient's zone; a report outside every window is kept and marked unscheduled.
"""
from __future__ import annotations

import functools
import logging
import re
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from backend.auth import Principal, visible_patient
from backend.errors import Conflict, DomainError, InvalidInput
from backend.services.plausibility import check_clinical_date
from backend.extensions import db
from backend.models import Event, Patient, Study, SymptomReport
from backend.models.audit import REASON_KEY
from backend.models.base import utcnow
from backend.services import alerts as alerts_service
from backend.services import care_team
from backend.services import reminders
from backend.services.study_settings import study_panel
from schedules.proctcae_answers import AnswerProblem, answer_problems
from schedules.proctcae_grades import SymptomGrade, grade_report
from schedules.proctcae_translations import (
    ItemTranslation,
    LocalisedLibrary,
    TranslationError,
    load_translations,
    localised_items,
)

log = logging.getLogger(__name__)

#: How far in the future a device clock may put `completed_at` before the report is refused.
CLOCK_SKEW = timedelta(minutes=5)

#: A BCP 47-like tag (language, then optional script/region parts). Anything else is refused before
#: it comes near a file name.
_LOCALE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8}){0,2}$")


class AnswersInvalid(DomainError):
    """422 naming each offending item: `errors = {"json": {"answers": {item code: [message]}}}`.

    Each message ends with the rule's slug from `schedules.proctcae_answers.AnswerProblem` in brackets.
    """

    status_code = 422

    def __init__(self, problems: list[AnswerProblem]):
        by_item: dict[str, list[str]] = {}
        for problem in problems:
            by_item.setdefault(problem.item, []).append(f"{problem.message} [{problem.reason}]")
        summary = "; ".join(f"{item}: {', '.join(messages)}" for item, messages in by_item.items())
        super().__init__(f"Some answers break the PRO-CTCAE answer rules: {summary}",
                         reason="invalid_answers", errors={"json": {"answers": by_item}})


# --- the item library --------------------------------------------------------------------------
def normalise_locale(raw: str) -> str:
    """`zh_cn` → `zh-CN`: language lower-case, script title-case, region upper-case."""
    if not _LOCALE.match(raw):
        raise InvalidInput("locale", f"{raw!r} is not a locale tag such as 'en' or 'zh-CN'.", location="query")
    language, *rest = re.split(r"[-_]", raw)
    parts = [language.lower()]
    for part in rest:
        parts.append(part.title() if len(part) == 4 else part.upper() if len(part) == 2 else part)
    return "-".join(parts)


def item_library(principal: Principal, locale: str | None, panel: str) -> LocalisedLibrary:
    """The PRO-CTCAE items in `locale` (a patient's own locale when not given, else English).

    `panel="study"` (patients only) limits the library to the patient's study panel. Texts in another
    language come only from an official translation file; items without one are answered in English
    and `locale_fallback` is set.
    """
    patient = db.session.get(Patient, principal.patient_id) if principal.patient_id else None
    wanted = normalise_locale(locale) if locale else (patient.locale if patient else "en")
    codes = None
    if panel == "study":
        if patient is None:
            raise InvalidInput("panel", "panel=study gives a signed-in patient their study's items; "
                               "staff read the whole library.", location="query")
        codes = study_panel(patient.study).item_codes()
    return localised_items(wanted, _translations(wanted), codes)


def _translations(locale: str) -> dict[str, ItemTranslation] | None:
    """NCI's official translation for `locale` from `PRO_CTCAE_TRANSLATIONS_DIR/<locale>.json`, or
    None (English is answered instead). A broken file is logged and treated as absent."""
    directory = current_app.config.get("PRO_CTCAE_TRANSLATIONS_DIR")
    if not directory:
        return None
    path = Path(directory) / f"{locale}.json"
    try:
        stat = path.stat()
        return _load_translations(str(path), stat.st_mtime_ns, stat.st_size)
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, TranslationError) as error:
        log.error("PRO-CTCAE translation %s is unusable, answering English: %s", path, error)
        return None


@functools.lru_cache(maxsize=16)
def _load_translations(path: str, mtime_ns: int, size: int) -> dict[str, ItemTranslation]:
    """Read a translation file once per version of it (the key includes its mtime and size)."""
    return load_translations(path)


# --- reports -----------------------------------------------------------------------------------
def submit_report(principal: Principal, raw_patient_id: str, data: dict[str, Any],
                  *, now: datetime | None = None) -> tuple[SymptomReport, bool]:
    """Store a report, grade it, complete its survey event and raise its alerts, in one transaction.

    Returns `(report, created)`: `created` is False for a replay of a stored `client_report_id`,
    which writes nothing — also when two identical uploads race (the unique constraint decides, and
    the loser answers the winner's report).
    """
    patient = visible_patient(principal, raw_patient_id)
    pairs = [(answer["item"], answer["value"]) for answer in data["answers"]]
    stored = _stored_report(patient.id, data["client_report_id"])
    if stored is not None:
        return _replay(stored, patient, data["completed_at"], pairs), False

    now = now or utcnow()
    if data["completed_at"] > now + CLOCK_SKEW:
        raise InvalidInput("completed_at", "The report cannot be completed in the future "
                           f"(more than {int(CLOCK_SKEW.total_seconds() // 60)} minutes ahead of the server).")
    problems = answer_problems(pairs, study_panel(patient.study).item_codes())
    if problems:
        raise AnswersInvalid(problems)
    answers = dict(pairs)
    grades = grade_report(answers)
    local_date = data["completed_at"].astimezone(ZoneInfo(patient.effective_timezone)).date()
    # Plausible for the patient (schedules.plausibility): from the screening period on; the future is
    # the clock-skew rule above.
    check_clinical_date(patient, local_date, "completed_at", screening=True, today=local_date)

    try:
        event = _survey_event_for(patient.id, local_date)
        report = SymptomReport(
            id=uuid.uuid4(), patient_id=patient.id, client_report_id=data["client_report_id"],
            completed_at=data["completed_at"], local_date=local_date, answers=answers,
            symptoms=[_symptom_row(grade) for grade in grades], event_id=event.id if event else None,
            unscheduled=event is None, entered_by_id=principal.user_id, entered_by_role=principal.role,
        )
        db.session.info[REASON_KEY] = f"symptom report {report.client_report_id}"
        if event is not None:
            event.status, event.actual_date = "completed", local_date
        db.session.add(report)
        db.session.flush()
        if event is not None:  # the survey is done: its pending reminders and call task are cancelled
            reminders.sync_event_reminders(patient, [event], now)
        alerts_service.raise_alerts(report, patient, grades)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        stored = _stored_report(patient.id, data["client_report_id"])
        if stored is None:
            raise
        return _replay(stored, patient, data["completed_at"], pairs), False
    finally:
        db.session.info.pop(REASON_KEY, None)
    _attach_message(report, patient)
    return report, True


def _stored_report(patient_id: uuid.UUID, client_report_id: uuid.UUID) -> SymptomReport | None:
    return db.session.scalar(sa.select(SymptomReport).where(
        SymptomReport.patient_id == patient_id, SymptomReport.client_report_id == client_report_id))


def _replay(stored: SymptomReport, patient: Patient, completed_at: datetime,
            pairs: list[tuple[Any, Any]]) -> SymptomReport:
    """The stored report when the upload is the same report again; 409 when the id is reused."""
    same = (stored.completed_at == completed_at and len(pairs) == len(stored.answers)
            and dict(pairs) == stored.answers)
    if not same:
        raise Conflict(f"client_report_id {stored.client_report_id} was already used for a different report.",
                       reason="client_report_id_reused")
    _attach_message(stored, patient)
    return stored


def _attach_message(report: SymptomReport, patient: Patient) -> None:
    report.patient_message = care_team.contact_message(patient) if report.alerts else None


def _survey_event_for(patient_id: uuid.UUID, local_date) -> Event | None:
    """The planned symptom survey whose window contains `local_date`, locked for this transaction;
    when windows overlap, the one whose target date is nearest (the earlier on a tie)."""
    candidates = list(db.session.scalars(
        sa.select(Event).where(
            Event.patient_id == patient_id, Event.kind == "symptom_survey", Event.status == "planned",
            Event.window_start <= local_date, Event.window_end >= local_date,
        ).with_for_update()))
    if not candidates:
        return None
    return min(candidates, key=lambda event: (abs((event.target_date - local_date).days), event.target_date))


def _symptom_row(grade: SymptomGrade) -> dict[str, Any]:
    return {"term_number": grade.term_number, "term": grade.term, "ctcae_term": grade.ctcae_term,
            "meddra_code": grade.meddra_code, "composite_grade": grade.composite_grade, "answers": grade.answers}


def reports_query(principal: Principal, raw_patient_id: str):
    """A patient's reports, newest first (by completion, then arrival)."""
    patient = visible_patient(principal, raw_patient_id)
    return (sa.select(SymptomReport).where(SymptomReport.patient_id == patient.id)
            .order_by(SymptomReport.completed_at.desc(), SymptomReport.created_at.desc()))
