"""The worklist's PFS rows (``pfs_at_risk``, ``no_baseline``), derived only for the patients PFS can flag.

Deriving PFS (`services.pfs.derive_many`, the function behind ``GET /pfs``) for every on-study patient
of a large site costs most of a worklist request, and almost every patient comes out neither at risk
nor without a baseline. One grouped query (:func:`pfs_summaries`) reads, per patient, whether a
baseline is recorded and the date of the last adequate post-baseline assessment; :func:`may_be_flagged`
keeps a patient only if

* no baseline assessment is dated on or before the evaluation day (``no_baseline``: RECIST 1.1 §3.2,
  FDA 2018 row "No baseline tumor assessments"), or
* a whole assessment window lies after the last adequate assessment L (or the first dose) and closed
  before the evaluation day: `schedules.pfs` counts missed visits only among those (``_missed_since``),
  and an at-risk patient needs at least one (``_early_warning``).

Only the kept patients are derived, with the full rules, so the rows are exactly those of a full
derivation (tests/backend/services/test_worklist_prefilter.py checks both the rule, against random
histories, and the query). Patients whose first dose is after the day are always derived.

The derivation itself (`services.pfs.derive`, pure given its inputs) is remembered per process by
everything it reads — first dose, the study's assessment plan and missed-visit rule, the patient's
assessments and outcomes as loaded, the evaluation day — so a nurse reloading the list derives only the
patients whose data changed (:func:`derive_remembered`); a changed input is a new key, never a stale answer.
"""
from __future__ import annotations

import functools
import uuid
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, NamedTuple

import sqlalchemy as sa

from backend.models import Patient, Study, TumourAssessment
from backend.services.assessments import ON_STUDY
from backend.services.bulk_reads import core_connection
from backend.services.pfs import History, assessment_plan, derive, evaluation_date, load_histories
from schedules.pfs import PfsResult
from schedules.pfs_assessments import ADEQUATE_RESPONSES


class PfsSummary(NamedTuple):
    """What the pre-filter needs of one patient's tumour assessments on the day."""

    has_baseline: bool
    last_adequate: date | None


@dataclass(frozen=True)
class WindowOffsets:
    """The study's assessment visits as day offsets from the first dose (target days), with the window."""

    targets: tuple[int, ...]
    window_days: int

    @classmethod
    def for_study(cls, study: Study, longest_days: int) -> WindowOffsets:
        plan = assessment_plan(study)
        start = date(2000, 1, 1)
        visits = plan.visits(start, start + timedelta(days=longest_days + plan.window_days))
        return cls(tuple((v.target_date - start).days for v in visits), plan.window_days)


def may_be_flagged(offsets: WindowOffsets, first_dose: date, day: date, summary: PfsSummary) -> bool:
    """Whether PFS on ``day`` can be ``no_baseline`` or ``at_risk``; False only when it cannot.

    ``offsets`` must cover every visit whose window opens by ``day``."""
    as_of = max(day, first_dose)
    if first_dose >= day or not summary.has_baseline:
        return True
    anchor = (summary.last_adequate or first_dose) - first_dose
    w = offsets.window_days
    # The first visit whose window opens after the anchor (target - w > anchor) ...
    index = bisect_right(offsets.targets, anchor.days + w)
    # ... must have closed before the evaluation day (target + w < as_of); later ones close later still.
    return index < len(offsets.targets) and offsets.targets[index] + w < (as_of - first_dose).days


def pfs_summaries(site_id: uuid.UUID, day: date) -> dict[uuid.UUID, PfsSummary]:
    """Per on-study patient of the site with assessments: a baseline dated on or before ``day``, and the
    last adequate post-baseline assessment (after the first dose, on or before ``day``). One grouped query;
    a patient it does not list has neither."""
    ta = TumourAssessment
    baseline = sa.func.max(sa.case((ta.baseline, 1), else_=0))
    adequate = sa.and_(sa.not_(ta.baseline), ta.overall_response.in_(sorted(ADEQUATE_RESPONSES)),
                       ta.date > Patient.first_dose_date)
    stmt = (sa.select(ta.patient_id, baseline.label("baseline"), sa.func.max(sa.case((adequate, ta.date))).label("last"))
            .join(Patient, Patient.id == ta.patient_id)
            .where(Patient.site_id == site_id, Patient.status.in_(ON_STUDY), ta.date <= day)
            .group_by(ta.patient_id))
    return {pid: PfsSummary(bool(baseline), last) for pid, baseline, last in core_connection().execute(stmt).all()}


def pfs_candidates(site_id: uuid.UUID, day: date, patients: Sequence[Any], study: Study) -> list[Any]:
    """The patients (with ``id`` and ``first_dose_date``) whose PFS on ``day`` may be flagged."""
    if not patients:
        return []
    longest = max(0, max((day - p.first_dose_date).days for p in patients))
    offsets = WindowOffsets.for_study(study, longest)
    summaries = pfs_summaries(site_id, day)
    none = PfsSummary(False, None)
    return [p for p in patients if may_be_flagged(offsets, p.first_dose_date, day, summaries.get(p.id, none))]


@dataclass(frozen=True)
class StudyRules:
    """What `services.pfs.derive` reads of a study, hashable (a cache key)."""

    assessment_interval_days: int
    assessment_window_days: int
    assessment_phases: tuple[tuple[int | None, int], ...]
    pfs_missed_rule: str

    @classmethod
    def of(cls, study: Study) -> StudyRules:
        phases = tuple((None if until is None else int(until), int(interval))
                       for until, interval in (study.assessment_phases or ()))
        return cls(study.assessment_interval_days, study.assessment_window_days, phases, study.pfs_missed_rule)


class _Subject(NamedTuple):
    """What `services.pfs.derive` reads of a patient."""

    first_dose_date: date
    study: StudyRules


# About 1.4 KB an entry (measured with tracemalloc, the history in its key included): at most ~28 MB a
# process, several days of a 2,000-patient site (each day's derivations are new keys).
@functools.lru_cache(maxsize=20_000)
def _derive(first_dose: date, rules: StudyRules, history: History, day: date) -> PfsResult:
    return derive(_Subject(first_dose, rules), history, day)


def derive_remembered(patients: Sequence[Any], day: date, study: Study,
                      among: sa.ColumnElement[bool] | None = None) -> dict[uuid.UUID, PfsResult]:
    """PFS on ``day`` of patients of one study (with ``id`` and ``first_dose_date``), as `services.pfs.derive_many`
    gives it: the same loading (``among``: a condition on `Patient` they all meet, see `load_histories`),
    evaluation date and derivation, a derivation run only for inputs not seen before."""
    rules = StudyRules.of(study)
    histories = load_histories((p.id for p in patients), among)
    return {p.id: _derive(p.first_dose_date, rules, histories[p.id], evaluation_date(p, day))
            for p in patients}
