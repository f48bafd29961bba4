"""A site's worklist: what its nurses must act on, one row per patient and thing to do, most urgent first.

A row (CONTRACT.md "Site work") is ``{"priority", "kind", "patient_id", "subject_id", "event_id",
"alert_id", "days_overdue", "due_date", "what", "action"}``; ``event_id``, ``alert_id`` and
``days_overdue`` are null where they do not apply. Rows are ordered by priority (1 = most urgent), then
due date (so the longest overdue come first), then subject.

Kinds, most urgent first (patients on study, i.e. on treatment or in follow-up, except alerts):

1. ``symptom_alert`` — an open PRO-CTCAE alert, one row per alert, until a nurse acknowledges it
   (patient safety first: Basch et al. 2016/2017).
2. ``pfs_at_risk`` — a tumour assessment was missed: an adequate scan is needed by the protect
   deadline or a later progression is censored (`schedules.pfs`, FDA 2018 "more than one missed
   visit"). The row is about the scan to book (its calendar ``event_id``); with no deadline left
   the scan is due today and ``days_overdue`` counts from the last missed window.
3. ``visit_overdue`` — dose visits or tumour assessments whose state is ``overdue`` (window closed,
   nothing recorded; `schedules.visit_states`): one row per patient, about the most overdue visit
   (its ``event_id`` and ``days_overdue``), saying how many more are waiting to be recorded.
4. ``no_baseline`` — no baseline tumour assessment is recorded: PFS is censored ``no_baseline``
   (RECIST 1.1 §3.2: baseline within 4 weeks before treatment) until it is.
5. ``visit_due`` — a dose visit or tumour assessment due (window open today) or planned within the
   next 7 days. A scan row says when its window closes and asks to book or confirm the scan.
6. ``survey_nonresponse`` — the last two weekly symptom surveys whose windows have closed were not
   completed (the PRO follow-up call of Basch et al. 2016).

One thing, one row: a row about an event that a more urgent row is already about is dropped (the
scan PFS needs is not also "due"). Every visit's state comes from `calendar_events.state_of`, the
function behind the calendar's ``state``.

Everything is set-based: a fixed number of queries per site whatever its size (PFS histories only for
the patients PFS can flag), no query per patient, read as plain Core rows, event ids as text (see
``bench/worklist.py``). The console calls :func:`worklist_rows` directly.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from backend.auth import Principal, can_see_site
from backend.errors import NotFound
from backend.extensions import db
from backend.models import Event, Patient, Site
from backend.services.alerts import open_alerts_for_site
from backend.services.assessments import ON_STUDY, site_today
from backend.services.calendar_events import state_of
from backend.services.bulk_reads import core_connection
from backend.services.collector import collector_paused
from backend.services.worklist_cache import worklist_rows_remembered
from backend.services.phrases import N_, Np_, Phrase
from backend.services.worklist_parts import PatientRef, Row, SiteDay, WorklistSource, booked, row
from backend.services.worklist_pfs import derive_remembered, pfs_candidates
from schedules.pfs import PfsResult
from schedules.pfs_assessments import MISSED, OPEN, UPCOMING

DUE_DAYS = 7
CLINIC_VISIT_KINDS = ("dose", "tumor_assessment")
NONRESPONSE_SURVEYS = 2
_CHUNK = 500


# -- sources --------------------------------------------------------------------------------------

def alert_rows(ctx: SiteDay) -> list[Row]:
    """Open symptom alerts, longest waiting first, one row each."""
    zone = ZoneInfo(ctx.site.timezone)
    rows = []
    for alert in open_alerts_for_site(ctx.site.id):
        rows.append(row("symptom_alert", alert.patient,
                        Phrase(N_("Symptom alert: %(term)s (%(rule)s)"),
                               {"term": alert.term, "rule": alert.rule.replace("_", " ")}),
                        alert.created_at.astimezone(zone).date(),
                        Phrase(N_("Call the patient, assess the symptom, then acknowledge the alert with the action "
                                  "taken")),
                        alert_id=alert.id))
    return rows


def _scan_to_book(result: PfsResult) -> Any:
    """The PFS visit the next adequate scan should attend: the one closing at the protect deadline,
    else the first still open or upcoming."""
    if result.protect_deadline is not None:
        for visit in result.visits:
            if visit.window_end == result.protect_deadline:
                return visit
    return next((v for v in result.visits if v.status in (OPEN, UPCOMING)), None)


def pfs_rows(ctx: SiteDay) -> list[Row]:
    """PFS at risk and no baseline, from the derivation behind GET /pfs (`services.pfs.derive`, remembered), run
    for the patients it can flag (`services.worklist_pfs.pfs_candidates`, `derive_remembered`)."""
    patients = pfs_candidates(ctx.site.id, ctx.day, list(ctx.patients.values()), ctx.site.study)
    results = derive_remembered(patients, ctx.day, ctx.site.study, _at_site(ctx.site))
    at_risk = [p for p in patients if results[p.id].at_risk]
    wanted = {p.key: visit.number for p in at_risk if (visit := _scan_to_book(results[p.id])) is not None}
    scans = _scan_events(wanted)
    rows = []
    for patient in patients:
        result = results[patient.id]
        if result.reason == "no_baseline":
            rows.append(row("no_baseline", patient,
                            Phrase(N_("No baseline tumour assessment recorded: until one is, PFS is censored at "
                                      "the first dose")), patient.first_dose_date,
                            Phrase(N_("Record the baseline scan (RECIST 1.1: at most 4 weeks before the first dose)"))))
            continue
        if not result.at_risk:
            continue
        deadline = result.protect_deadline
        since = result.last_adequate_assessment or patient.first_dose_date
        visit = _scan_to_book(result)
        scan = scans.get(patient.key) if visit is not None else None
        booking = booked(scan, scan.target_date) if scan else None
        what = Phrase(Np_("PFS at risk: %(num)s tumour assessment missed since %(since)s",
                          "PFS at risk: %(num)s tumour assessments missed since %(since)s"),
                      {"num": result.consecutive_missed, "since": since})
        if deadline is not None:
            action = ((booking, Phrase(N_(": make sure the scan is adequate and done on or before %(deadline)s"),
                                       {"deadline": deadline})) if booking else
                      Phrase(N_("Book an adequate tumour assessment on or before %(deadline)s"), {"deadline": deadline}))
            rows.append(row("pfs_at_risk", patient, what, deadline, action, event_id=scan.id if scan else None))
            continue
        last_missed = max((v.window_end for v in result.visits if v.status == MISSED), default=None)
        late = (ctx.day - last_missed).days if last_missed is not None and last_missed < ctx.day else None
        action = ((booking, Phrase(N_(": a progression found before that scan would be censored"))) if booking else
                  Phrase(N_("Book an adequate tumour assessment now: a progression found before it would be censored")))
        rows.append(row("pfs_at_risk", patient, what, ctx.day, action,
                        event_id=scan.id if scan else None, days_overdue=late))
    return rows


class _IdText(sa.types.TypeDecorator):
    """A UUID read as the text `str(uuid)` gives, where the database cannot spell it so (SQLite stores 32 hex
    digits)."""

    impl = sa.Uuid
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Any) -> str | None:
        return None if value is None else str(value)


def _id_text(column: sa.ColumnElement, name: str) -> sa.ColumnElement[str]:
    """An id as text (lowercase, hyphenated, as `str(uuid)`): formatted by PostgreSQL, so the thousands of rows
    of a large site build no UUID objects only to print them; converted in Python elsewhere."""
    if db.session.get_bind().dialect.name == "postgresql":
        return sa.cast(column, sa.Text).label(name)
    return sa.type_coerce(column, _IdText()).label(name)


def _event_id() -> sa.ColumnElement[str]:
    return _id_text(Event.id, "id")


def _scan_events(wanted: dict[str, int]) -> dict[str, Any]:
    """The calendar event of each patient's scan to book (PFS visit k is the event keyed `assessment:{k}`, as
    `services.pfs.calendar_scans` finds it), with its status and booking, by patient id (as text): one exact
    (patient, key) probe of the unique index each, on PostgreSQL as one statement joining the pairs, sent as one
    JSON parameter (a single string to send, where arrays of ids are encoded element by element)."""
    if not wanted:
        return {}
    columns = (_id_text(Event.patient_id, "patient_id"), _event_id(), Event.target_date, Event.status,
               Event.appointment_time, Event.appointment_location)
    connection = core_connection()
    if connection.dialect.name == "postgresql":
        pairs = sa.func.json_to_recordset(sa.bindparam(
            "scans", [{"patient_id": key, "key": f"assessment:{number}"} for key, number in wanted.items()],
            type_=postgresql.JSON)).table_valued(sa.column("patient_id", sa.Uuid), sa.column("key", sa.Text)
                                                 ).render_derived("wanted", with_types=True)
        statement = sa.select(*columns).join(pairs, sa.and_(Event.patient_id == pairs.c.patient_id,
                                                            Event.key == pairs.c.key))
        return {event.patient_id: event for event in connection.execute(statement).all()}
    keys = [(uuid.UUID(key), f"assessment:{number}") for key, number in wanted.items()]
    return {event.patient_id: event for start in range(0, len(keys), _CHUNK) for event in connection.execute(
        sa.select(*columns).where(sa.tuple_(Event.patient_id, Event.key).in_(keys[start:start + _CHUNK]))).all()}


def _at_site(site: Site) -> sa.ColumnElement[bool]:
    """The site's on-study patients (`SiteDay.patients`), as a condition on `Patient`."""
    return sa.and_(Patient.site_id == site.id, Patient.status.in_(ON_STUDY))


def _site_visits(ctx: SiteDay, *conditions) -> sa.Select:
    """Planned clinic visits (doses, tumour assessments) of the site's on-study patients."""
    return (sa.select(_event_id(), Event.patient_id, Event.kind, Event.label, Event.status, Event.target_date,
                      Event.window_start, Event.window_end, Event.appointment_time, Event.appointment_location)
            .join(Patient, Patient.id == Event.patient_id)
            .where(_at_site(ctx.site), Event.kind.in_(CLINIC_VISIT_KINDS), Event.status == "planned", *conditions))


def overdue_rows(ctx: SiteDay) -> list[Row]:
    """One row per patient with clinic visits overdue: about the most overdue one, counting the rest.

    The query keeps planned visits whose window closed before the day (exactly the ``overdue``
    state) and returns, per patient, the oldest with the number of them; its state, and so
    ``days_overdue``, comes from `state_of` like every other view of the visit."""
    if not ctx.patients:
        return []
    # window_start <= window_end (a check constraint): the first condition lets the index serve.
    visits = _site_visits(ctx, Event.window_start < ctx.day, Event.window_end < ctx.day).add_columns(
        sa.func.count().over(partition_by=Event.patient_id).label("n"),
        sa.func.row_number().over(partition_by=Event.patient_id,
                                  order_by=(Event.window_end, Event.target_date, Event.id)).label("rank")).subquery()
    rows = []
    for event in core_connection().execute(sa.select(visits).where(visits.c.rank == 1)).all():
        patient = ctx.patients.get(event.patient_id)
        state = state_of(event, ctx.day)
        if patient is None or state.state != "overdue":
            continue
        what = Phrase(Np_("%(label)s planned %(target)s is not recorded; its window closed %(end)s (%(num)s day ago)",
                          "%(label)s planned %(target)s is not recorded; its window closed %(end)s (%(num)s days ago)"),
                      {"label": event.label, "target": event.target_date, "end": event.window_end,
                       "num": state.days_overdue})
        action = Phrase(N_("Record the visit as completed (with its date), missed or held"))
        if event.n > 1:
            what = (what, Phrase(Np_("; %(num)s more visit not recorded", "; %(num)s more visits not recorded"),
                                 {"num": event.n - 1}))
            action = (action, Phrase(N_(", then the others")))
        rows.append(row("visit_overdue", patient, what, event.window_end, action,
                        event_id=event.id, days_overdue=state.days_overdue))
    return rows


CONFIRM_VISIT = Phrase(N_("Confirm the visit with the patient"))
CONFIRM_VISIT_BOOKED = Phrase(N_(": confirm the visit with the patient"))
CONFIRM_SCAN_BOOKED = Phrase(N_(": confirm the appointment with the patient"))


def due_rows(ctx: SiteDay) -> list[Row]:
    """Clinic visits due (window open today) or planned within the next 7 days, one row each.

    The most numerous rows of a large site (one per visit): columns are unpacked once, the phrases without
    values are shared."""
    if not ctx.patients:
        return []
    day, week_end = ctx.day, ctx.day + timedelta(days=DUE_DAYS)
    patients = ctx.patients
    rows = []
    # Due (window_start <= day) or planned before week_end (so window_start < week_end too).
    for event in core_connection().execute(_site_visits(ctx, Event.window_start < week_end, Event.window_end >= day,
                                                 sa.or_(Event.window_start <= day, Event.target_date < week_end))).all():
        event_id, patient_id, kind, label, _, target, start, end = event[:8]
        patient = patients.get(patient_id)
        if patient is None or state_of(event, day).state not in ("due", "upcoming"):
            continue
        window = {"label": label, "target": target, "start": start, "end": end}
        booking = booked(event, target)
        if kind == "tumor_assessment":
            what = Phrase(Np_("%(label)s planned %(target)s: window %(start)s to %(end)s closes in %(num)s day",
                              "%(label)s planned %(target)s: window %(start)s to %(end)s closes in %(num)s days"),
                          {**window, "num": (end - day).days})
            action = ((booking, CONFIRM_SCAN_BOOKED) if booking else
                      Phrase(N_("Book the scan on or before %(end)s, or confirm the appointment"), window))
        else:
            what = Phrase(N_("%(label)s planned %(target)s (window %(start)s to %(end)s)"), window)
            action = (booking, CONFIRM_VISIT_BOOKED) if booking else CONFIRM_VISIT
        rows.append(row("visit_due", patient, what, target, action, event_id=event_id))
    return rows


def survey_rows(ctx: SiteDay) -> list[Row]:
    """Patients whose last two weekly surveys with a closed window were not completed: one query (the last two
    per patient through a LATERAL join on the patient's surveys by window end), answering only those patients,
    with the latest of their two surveys."""
    if not ctx.patients:
        return []
    rows = []
    for survey in _unanswered_surveys(ctx):
        patient = ctx.patients.get(survey.patient_id)
        if patient is None:
            continue
        rows.append(row("survey_nonresponse", patient,
                        Phrase(N_("The last %(count)s weekly symptom surveys were not completed (latest: %(label)s, "
                                  "closed %(end)s)"),
                               {"count": NONRESPONSE_SURVEYS, "label": survey.label, "end": survey.window_end}),
                        survey.window_end, Phrase(N_("Call the patient: check on their symptoms and help with the app")),
                        event_id=survey.id))
    return rows


def _unanswered_surveys(ctx: SiteDay) -> list[Any]:
    """The latest closed survey of each patient whose last two closed surveys were not completed."""
    if core_connection().dialect.name != "postgresql":
        return _unanswered_surveys_portable(ctx)
    patients = sa.select(Patient.id).where(_at_site(ctx.site)).subquery()
    latest = (sa.select(_event_id(), Event.label, Event.status, Event.window_end)
              .where(Event.patient_id == patients.c.id, Event.kind == "symptom_survey", Event.status != "cancelled",
                     Event.window_end < ctx.day)
              .order_by(Event.window_end.desc()).limit(NONRESPONSE_SURVEYS).lateral())
    per_patient = {"partition_by": patients.c.id}
    last = (sa.select(patients.c.id.label("patient_id"), latest,
                      sa.func.count().over(**per_patient).label("surveys"),
                      sa.func.count().filter(latest.c.status == "completed").over(**per_patient).label("completed"),
                      sa.func.row_number().over(**per_patient, order_by=latest.c.window_end.desc()).label("rank"))
            .select_from(patients.join(latest, sa.true())).subquery())
    return core_connection().execute(sa.select(last).where(
        last.c.rank == 1, last.c.surveys == NONRESPONSE_SURVEYS, last.c.completed == 0)).all()


def _unanswered_surveys_portable(ctx: SiteDay) -> list[Any]:
    """The same, without LATERAL or window filters (the laptop's SQLite): every closed survey of the site's
    patients, judged here."""
    closed = core_connection().execute(
        sa.select(Event.patient_id, _event_id(), Event.label, Event.status, Event.window_end)
        .join(Patient, Patient.id == Event.patient_id)
        .where(_at_site(ctx.site), Event.kind == "symptom_survey", Event.status != "cancelled",
               Event.window_end < ctx.day)
        .order_by(Event.patient_id, Event.window_end.desc())).all()
    latest: dict[uuid.UUID, list[Any]] = {}
    for survey in closed:
        latest.setdefault(survey.patient_id, [])
        if len(latest[survey.patient_id]) < NONRESPONSE_SURVEYS:
            latest[survey.patient_id].append(survey)
    return [surveys[0] for surveys in latest.values()
            if len(surveys) == NONRESPONSE_SURVEYS and all(s.status != "completed" for s in surveys)]


WORKLIST_SOURCES: list[WorklistSource] = [alert_rows, pfs_rows, overdue_rows, due_rows, survey_rows]


# -- the list -------------------------------------------------------------------------------------

def _on_study(site: Site) -> dict[uuid.UUID, PatientRef]:
    study = site.study
    return {r.id: PatientRef(r.id, r.subject_id, r.first_dose_date, study, r.key) for r in core_connection().execute(
        sa.select(Patient.id, Patient.subject_id, Patient.first_dose_date, _id_text(Patient.id, "key"))
        .where(_at_site(site))).all()}


def _sort_key(r: Row) -> tuple:
    return (r["priority"], r["due_date"] or date.min, r["subject_id"], r["kind"], r["what"])


def _one_row_per_thing(rows: Iterable[Row]) -> list[Row]:
    """Most urgent first; a row about an event a more urgent row is already about is dropped."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for r in sorted(rows, key=_sort_key):
        if r["event_id"] is not None:
            thing = (r["patient_id"], r["event_id"])
            if thing in seen:
                continue
            seen.add(thing)
        kept.append(r)
    return kept


def worklist_rows(site: Site, day: date) -> list[Row]:
    """The worklist of `site` on `day` (the caller checks scope): row dicts, most urgent first."""
    with collector_paused():
        ctx = SiteDay(site, day, _on_study(site))
        return _one_row_per_thing(r for source in WORKLIST_SOURCES for r in source(ctx))


def site_worklist(principal: Principal, code: str, day: date | None = None) -> Sequence[Row]:
    """The worklist of a site in the principal's scope (404 otherwise), made anew only when something it
    reads changed (backend.services.worklist_cache): shared rows, read-only."""
    site = db.session.scalar(sa.select(Site).where(Site.code == code))
    if site is None or not can_see_site(principal, site):
        raise NotFound(f"No site {code!r}.")
    day = day or site_today(site)
    return worklist_rows_remembered(site, day, lambda: worklist_rows(site, day))
