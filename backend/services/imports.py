"""`flask patients import`: an existing trial's patients, with the visits and tumour assessments they
already had, in batches.

Each row is one patient, all or nothing: a row that fails a rule is rejected with its reason and
the others are imported. Rows are checked and their calendars planned in memory, with the same rules
and functions as `POST /patients` (`services.patients`) and `POST /patients/{id}/assessments`
(`services.assessments`); then each batch is written set-based in one transaction: the patients and
their assessments in one flush (each audited by the ORM, with its CSV line as the reason), one
audit record per calendar naming its events, then every event of the batch in one COPY (the
database checks it against those records once, as the COPY ends: revision 0009_event_inserts), the
reminders in one COPY (`calendar_writes.write_new_calendars`). On PostgreSQL a writer thread
stores each batch on its own connection while the next is planned (`import_writer`). The
database's own refusals (a subject enrolled through the API meanwhile) send that batch, and that
batch only, down the one patient at a time path, a savepoint each. An interrupted run keeps every
batch it had begun to store; a re-run skips the subjects already in their study and lists them.
"""
from __future__ import annotations

import gc
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from itertools import islice
from typing import Any

import marshmallow as ma
import sqlalchemy as sa

from backend.errors import Conflict, DomainError, InvalidInput
from backend.extensions import db
from backend.models import Patient, Study
from backend.models.audit import REASON_KEY, REASONS_KEY
from backend.models.base import utcnow
from backend.services import assessments as assessment_rules
from backend.services import calendars
from backend.services.calendar_writes import new_calendar, write_new_calendars
from backend.services.import_writer import BatchWriter
from backend.services.patients import (
    check_clinic_open,
    check_first_dose,
    conflict_from,
    enrol_patient,
    new_patient,
    study_and_site,
)
from backend.services.plausibility import check_recorded_dates
from backend.services.regimens import regimen_for
from schedules.calendar_planning import plan_assessments, plan_calendar
from schedules.calendars import EventFact, PlannedEvent

IMPORT_COLUMNS = ("study", "site", "subject_id", "regimen", "first_dose_date", "timezone", "locale", "visits")
REQUIRED_IMPORT_COLUMNS = IMPORT_COLUMNS[:5]
_VISIT_TOKEN = re.compile(r"^(?:C(?P<cycle>\d+)D(?P<day>\d+)|A(?P<assessment>\d+)|S(?P<survey>\d+)|(?P<baseline>BL))$")
_RECORDED = ("completed", "missed", "held")
RESPONSES = ("CR", "PR", "SD", "NON_CR_NON_PD", "PD", "NE")

VISITS_HELP = """\
The optional `visits` column lists what was already recorded, separated by ';':
  C2D1=2026-01-28            dosing visit cycle 2 day 1 completed on that date
  C2D8=2026-02-04:held       held (the date is optional: C2D8=held)
  BL=2026-09-01              the baseline tumour scan (on or before the first dose)
  A1=2026-11-16:SD           tumour assessment 1 on that date with its overall response
                             (RECIST 1.1: CR, PR, SD, NON_CR_NON_PD, PD, NE), recorded exactly as
                             POST /patients/{id}/assessments records it (it counts for PFS)
  A2=2026-12-28              tumour assessment 2 done, no response recorded (calendar only)
  S3=missed                  symptom survey 3 missed (missed takes no date)

Statuses: completed (the default; needs a date), missed, held. Dosing-diary days are not imported.
Re-running the same file skips the subjects already imported and says so."""


@dataclass(frozen=True)
class ImportedVisits:
    """A row's `visits`: calendar facts, and the assessments to record (baseline and responses)."""

    facts: dict[str, EventFact]
    assessments: list[dict[str, Any]]


def parse_visits(text: str | None) -> dict[str, EventFact]:
    """`C1D1=2026-01-05;C2D8=held;A1=2026-02-16` -> facts by event key (see VISITS_HELP)."""
    return parse_import_visits(text).facts


def parse_import_visits(text: str | None) -> ImportedVisits:
    """The `visits` column (see VISITS_HELP): calendar facts, and assessments (BL, A<n>=date:response)."""
    facts: dict[str, EventFact] = {}
    assessments: list[dict[str, Any]] = []
    seen: set[str] = set()
    for part in filter(None, (p.strip() for p in (text or "").split(";"))):
        token, _, value = part.partition("=")
        match = _VISIT_TOKEN.match(token.strip().upper())
        if match is None or not value:
            raise InvalidInput("visits", f"{part!r}: expected C<cycle>D<day>, A<n>, S<n> or BL '=' date[:status].")
        if token.strip().upper() in seen:
            raise InvalidInput("visits", f"{part!r}: {token} is listed twice.")
        seen.add(token.strip().upper())
        day_text, _, status = value.strip().partition(":")
        status = status.strip().upper() if status.strip().upper() in RESPONSES else status.strip()
        if match["baseline"] or (match["assessment"] and status in RESPONSES):
            if status and not (match["assessment"] and status in RESPONSES):
                raise InvalidInput("visits", f"{part!r}: the baseline takes a date only.")
            try:
                day = date.fromisoformat(day_text.strip())
            except ValueError:
                raise InvalidInput("visits", f"{part!r}: {day_text!r} is not a YYYY-MM-DD date.") from None
            assessments.append({"date": day, "baseline": True} if match["baseline"]
                               else {"date": day, "overall_response": status})
            continue
        if match["cycle"]:
            key = f"dose:C{int(match['cycle'])}D{int(match['day'])}"
        elif match["assessment"]:
            key = f"assessment:{int(match['assessment'])}"
        else:
            key = f"survey:{int(match['survey'])}"
        if not status and day_text in _RECORDED:
            day_text, status = "", day_text
        status = status or "completed"
        if status not in _RECORDED:
            raise InvalidInput("visits", f"{part!r}: the status must be one of {', '.join(_RECORDED)}"
                                         + (f", or a response ({', '.join(RESPONSES)})" if match["assessment"] else "")
                                         + ".")
        try:
            actual = date.fromisoformat(day_text) if day_text else None
        except ValueError:
            raise InvalidInput("visits", f"{part!r}: {day_text!r} is not a YYYY-MM-DD date.") from None
        if status == "completed" and actual is None:
            raise InvalidInput("visits", f"{part!r}: a completed visit needs its date.")
        if status == "missed" and actual is not None:
            raise InvalidInput("visits", f"{part!r}: a missed visit has no date.")
        facts[key] = EventFact(key=key, status=status, actual_date=actual)
    assessments.sort(key=lambda a: (not a.get("baseline"), a["date"]))
    return ImportedVisits(facts, assessments)


@dataclass
class ImportSummary:
    imported: int = 0
    rejected: list[tuple[int, str, str]] = field(default_factory=list)  # (line, subject, reason)
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (line, subject): imported before


def _error_text(error: Exception) -> str:
    if isinstance(error, ma.ValidationError):
        messages = error.messages if isinstance(error.messages, dict) else {"row": error.messages}
        return "; ".join(f"{name}: {' '.join(map(str, msgs if isinstance(msgs, list) else [msgs]))}"
                         for name, msgs in messages.items())
    if isinstance(error, DomainError) and error.errors:
        fields = next(iter(error.errors.values()))
        return "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in fields.items())
    return getattr(error, "message", None) or str(error)


IMPORT_BATCH_SIZE = 100


def import_patients(rows: Iterable[tuple[int, Mapping[str, str]]], source: str, *,
                    progress: Callable[[int], None] | None = None,
                    batch_size: int = IMPORT_BATCH_SIZE) -> ImportSummary:
    """Import `rows` ((CSV line, row)) in batches of `batch_size` patients, one transaction each; see
    the module docstring. `progress(1)` after each row."""
    summary = ImportSummary()
    session = db.session
    batch = _Batch(source)

    def settle(outcomes: Iterable[tuple[list[_Row], Exception | None]]) -> None:
        for rows, refused in outcomes:
            if refused is None:
                summary.imported += len(rows)
                continue
            for row in rows:  # one patient at a time: the database names the row it refuses
                _import_one(row.line, row.raw, source, summary)

    try:
        with _collecting_less(), BatchWriter(_write) as writer:
            for chunk in _chunks(rows, batch_size):
                prepared = []
                for line, raw in chunk:
                    subject = (raw.get("subject_id") or "").strip()
                    try:
                        row = batch.prepare(line, raw)
                        if row is None:
                            summary.skipped.append((line, subject))
                        else:
                            prepared.append(row)
                    except (DomainError, ma.ValidationError) as error:
                        summary.rejected.append((line, subject, _error_text(error)))
                    if progress is not None:
                        progress(1)
                writer.submit(prepared)
                settle(writer.outcomes())
                session.commit()  # the patients settled one at a time; ends this session's reads
        settle(writer.outcomes())
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return summary


@contextmanager
def _collecting_less() -> Iterator[None]:
    """A batch builds ~100,000 short-lived objects; at the default thresholds the cycle collector
    runs hundreds of times per batch and its older generations walk the whole application's heap
    (mappers, schemas) each time. For the run, what exists is frozen out of its reach and the young
    generation is collected every 50,000 allocations: `bench/import.py` ran ~20% more rows per second."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _chunks(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, max(size, 1))):
        yield chunk


@dataclass
class _Row:
    """A checked row: its patient, assessments and calendar, ready to write."""

    line: int
    raw: Mapping[str, str]
    reason: str
    patient: Patient
    assessments: list[Any]
    events: list[tuple]
    reminders: list[dict[str, Any]]
    audit: dict[str, Any]  # the changes of the calendar's audit record


class _Batch:
    """What the rows of one run share: the schema, the studies and sites met (one query each), the
    subjects enrolled before the run (skipped) and those this run imported (a second row of the same
    subject is rejected as `POST /patients` would reject it)."""

    def __init__(self, source: str) -> None:
        from backend.schemas.patients import PatientCreateSchema

        self.source, self.schema = source, PatientCreateSchema()
        self.enrolled: dict[str, set[str]] = {}
        self.places: dict[tuple[str, str], Any] = {}
        self.imported: set[tuple[Any, str]] = set()

    def prepare(self, line: int, raw: Mapping[str, str]) -> _Row | None:
        """None when the subject was imported before this run; raises with the reason to reject it."""
        subject, study_code = (raw.get("subject_id") or "").strip(), (raw.get("study") or "").strip()
        if study_code not in self.enrolled:
            self.enrolled[study_code] = set(db.session.scalars(sa.select(Patient.subject_id).join(Study).where(
                Study.code == study_code)))
        if subject and subject in self.enrolled[study_code]:
            return None
        data, visits = _load(self.schema, raw)
        study, site = self._study_and_site(data["study"], data["site"])
        regimen_for(study, data["regimen"])
        today = calendars.local_today(site.timezone)
        check_first_dose(data["first_dose_date"], today)
        if not data.get("force"):
            check_clinic_open(site, data["first_dose_date"], today)
        if (study.id, data["subject_id"]) in self.imported:
            raise Conflict(f"Subject {data['subject_id']} is already enrolled in {study.code}.",
                           reason="duplicate_subject")
        patient = new_patient(study, site, data)
        assessments = _check_assessments(patient, visits.assessments, today)
        planned, facts = plan_imported_calendar(patient, visits.facts, visits.assessments)
        events, reminder_rows, audit = new_calendar(patient, planned, facts, utcnow())
        self.imported.add((study.id, data["subject_id"]))
        return _Row(line, raw, f"imported from {self.source}, line {line}", _unattached(patient), assessments,
                    events, reminder_rows, audit)

    def _study_and_site(self, study_code: str, site_code: str):
        key = (study_code, site_code)
        if key not in self.places:
            try:
                self.places[key] = study_and_site(None, study_code, site_code)
            except DomainError as error:
                self.places[key] = error
        found = self.places[key]
        if isinstance(found, DomainError):
            raise found
        return found


def _unattached(patient: Patient) -> Patient:
    """The row to store of a patient planned with its study and site: the same values, with their ids
    in place of the objects, which belong to the planning session (the batch may be stored by another:
    `import_writer`)."""
    values = {attr.key: getattr(patient, attr.key) for attr in sa.inspect(Patient).column_attrs}
    values.update(study_id=patient.study.id, site_id=patient.site.id)
    return Patient(**{name: value for name, value in values.items() if value is not None})


def _load(schema: ma.Schema, raw: Mapping[str, str]) -> tuple[dict[str, Any], ImportedVisits]:
    values = {name: (raw.get(name) or "").strip() for name in IMPORT_COLUMNS}
    data = schema.load({name: value for name, value in values.items()
                        if name != "visits" and (value or name in REQUIRED_IMPORT_COLUMNS)})
    return data, parse_import_visits(values["visits"])


def _check_assessments(patient: Patient, assessments: list[dict[str, Any]], today: date) -> list[Any]:
    """The rules `add_assessment` applies, for a patient with nothing stored yet: the same checks, and
    no two post-baseline assessments on one date (`BL` appears once: the visits column says so)."""
    rows, dates = [], set()
    for assessment in assessments:
        assessment_rules.check_assessment(patient, assessment, today, death=None)
        if not assessment.get("baseline"):
            if assessment["date"] in dates:
                raise Conflict(f"An assessment dated {assessment['date']} is already recorded.",
                               reason="duplicate_assessment")
            dates.add(assessment["date"])
        rows.append(assessment_rules.new_assessment(patient, assessment, None))
    return rows


def plan_imported_calendar(patient: Patient, facts: Mapping[str, EventFact], assessments: list[dict[str, Any]]
                           ) -> tuple[list[PlannedEvent], dict[str, EventFact]]:
    """The calendar a new patient ends with when enrolled with the visits `facts` and then given
    `assessments` one by one, by date (`add_assessment`): each post-baseline scan completes, on its
    date, the planned tumour assessment whose window holds it (the nearest by protocol date, as
    `calendars.record_scan_on_calendar` chooses), and a PD stops the imaging clock from then on.
    Planned once, in memory (the imaging clock alone picks each scan's visit): the events the one
    patient at a time path creates and then cancels at a re-plan are never written. The visits are
    checked as `calendars.plan_new_patient` checks them."""
    visits, facts = facts, dict(facts)
    check_recorded_dates(patient, facts)  # before planning: a C1D1 in year 1 would plan a century
    progression = None
    for assessment in assessments:
        if assessment.get("baseline"):
            continue
        day = assessment["date"]
        inputs = calendars.build_plan_inputs(patient, new=True, progression_on=progression)
        windows = [event for event in plan_assessments(inputs, facts)
                   if event.key not in facts and event.window_start <= day <= event.window_end]
        if windows:
            visit = min(windows, key=lambda event: (abs((event.protocol_date - day).days), event.protocol_date))
            facts[visit.key] = EventFact(key=visit.key, status="completed", actual_date=day)
        if assessment["overall_response"] == "PD" and progression is None:
            progression = day
    planned = plan_calendar(calendars.build_plan_inputs(patient, new=True, progression_on=progression), facts)
    if visits:
        calendars.check_imported_visits(planned, visits, calendars.latest_today(patient))
        check_recorded_dates(patient, visits, planned)
    return planned, facts


def _write(rows: list[_Row]) -> None:
    """One batch, set-based (see the module docstring). Does not commit."""
    if not rows:
        return
    session = db.session
    session.info[REASONS_KEY] = reasons = {}
    for row in rows:
        session.add(row.patient)
        reasons[str(row.patient.id)] = row.reason
    session.flush()  # the patients first: assessments reference them without an ORM relationship
    for row in rows:
        for assessment in row.assessments:
            session.add(assessment)
            reasons[str(assessment.id)] = f"{row.reason}: {assessment_rules.assessment_reason(assessment)}"
    session.flush()
    write_new_calendars([values for row in rows for values in row.events],
                        [reminder for row in rows for reminder in row.reminders],
                        {row.patient.id: (row.audit, row.reason) for row in rows})


def import_row(line: int, raw: Mapping[str, str], source: str) -> Patient:
    """One row the way `POST /patients` and then `POST /patients/{id}/assessments` record it
    (`enrol_patient`, `add_assessment`: a re-plan per scan), in the caller's transaction: the path of
    a batch the database refused, and the benchmark's baseline."""
    from backend.schemas.patients import PatientCreateSchema

    data, visits = _load(PatientCreateSchema(), raw)
    db.session.info[REASON_KEY] = f"imported from {source}, line {line}"
    patient = enrol_patient(None, data, visits=visits.facts, commit=False)
    for assessment in visits.assessments:
        assessment_rules.add_assessment(patient, assessment, None)
    db.session.flush()
    return patient


def _import_one(line: int, raw: Mapping[str, str], source: str, summary: ImportSummary) -> None:
    savepoint = db.session.begin_nested()
    try:
        import_row(line, raw, source)
        savepoint.commit()
        summary.imported += 1
    except (DomainError, ma.ValidationError, sa.exc.IntegrityError, sa.exc.DataError) as error:
        savepoint.rollback()
        if isinstance(error, sa.exc.IntegrityError):
            error = conflict_from(error)
        elif isinstance(error, sa.exc.DataError):  # a value the database cannot store: this row only
            error = InvalidInput("row", "The database refused a value of this row.")
        summary.rejected.append((line, (raw.get("subject_id") or "").strip(), _error_text(error)))
