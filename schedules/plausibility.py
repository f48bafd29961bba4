"""Is a clinical date plausible for this patient, and are a study's settings clinically sane?

Pure rules, no clock: `today` is a parameter (the site's today, as everywhere else).

A clinical record of a patient on study is dated within their time on study:

* **Not before the first dose**, except where the protocol allows it: a baseline tumour assessment
  (and anything else recorded at screening: baseline symptom reports, adverse events present at
  baseline, an outcome during screening) may precede the first dose by at most the study's
  screening period. RECIST 1.1 (Eisenhauer et al., Eur J Cancer 2009;45:228-247, section 3.2):
  baseline evaluations "should be performed as close as possible to the treatment start and never
  more than 4 weeks before the beginning of the treatment" - hence the default of 28 days. A visit
  of the calendar may be recorded as early as its own window opens.
* **Not in the future**: nothing is recorded before it happens (the site's today).
* **Never past the planning horizon** (`first_dose + horizon_days`): nothing exists there to record.

Study settings have clinical bounds: a planning horizon of at most 5 years, visit and survey
intervals of at most a year, a screening period of at most 90 days. A calendar has a hard ceiling
on events: five years of daily diary entries and daily surveys with weekly doses stay far below it,
while a dosing clock re-anchored at year 1 (issue 10: 105,705 events from one request) does not.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

DEFAULT_SCREENING_DAYS = 28
MAX_SCREENING_DAYS = 90
MAX_HORIZON_DAYS = 5 * 365 + 1  # five years, one leap day
MAX_INTERVAL_DAYS = 365
MAX_WINDOW_DAYS = 180
MAX_PHASES = 20
MAX_EVENTS_PER_CALENDAR = 12_000


class Implausible(ValueError):
    """A date or setting outside its clinical bounds: `field`, `reason` (a stable slug) and a message."""

    def __init__(self, field: str, message: str, reason: str):
        super().__init__(message)
        self.field, self.message, self.reason = field, message, reason


@dataclass(frozen=True)
class TimeOnStudy:
    """The span a patient's records may fall in."""

    first_dose: date
    today: date
    horizon_days: int
    screening_days: int = DEFAULT_SCREENING_DAYS

    @property
    def horizon_end(self) -> date:
        """The last day of the planning horizon (nothing is planned on first_dose + horizon_days)."""
        return self.first_dose + timedelta(days=self.horizon_days - 1)

    def check(self, value: date, field: str, *, earliest: date | None = None, screening: bool = False) -> None:
        """Raise Implausible unless `value` is within the patient's time on study.

        `earliest` is the first day this record may have (e.g. a visit's window start); without it the
        first dose, or with `screening` the first dose less the screening period."""
        if earliest is None:
            earliest = self.first_dose - timedelta(days=self.screening_days if screening else 0)
        if value < earliest:
            what = "the screening period before the first dose" if screening else "the first dose"
            raise Implausible(field, f"{value.isoformat()} is before {what} (earliest {earliest.isoformat()}).",
                              "date_before_first_dose")
        if value > self.today:
            raise Implausible(field, f"{value.isoformat()} is in the future (today is {self.today.isoformat()}).",
                              "date_in_future")
        if value > self.horizon_end:
            raise Implausible(field, f"{value.isoformat()} is past the planning horizon "
                                     f"({self.horizon_end.isoformat()}).", "date_beyond_horizon")


def check_event_count(count: int) -> None:
    if count > MAX_EVENTS_PER_CALENDAR:
        raise Implausible("calendar", f"The calendar would hold {count} events; at most "
                                      f"{MAX_EVENTS_PER_CALENDAR} are allowed.", "calendar_too_large")


def _whole(value: object, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Implausible(field, f"must be a whole number, not {value!r}.", "invalid_study_settings")
    if not low <= value <= high:
        raise Implausible(field, f"must be between {low} and {high}, not {value}.", "invalid_study_settings")
    return value


def horizon_days(settings: dict, default: int) -> int:
    return _whole(settings.get("planning_horizon_days", default), "planning_horizon_days", 1, MAX_HORIZON_DAYS)


def screening_days(settings: dict) -> int:
    return _whole(settings.get("screening_period_days", DEFAULT_SCREENING_DAYS), "screening_period_days",
                  0, MAX_SCREENING_DAYS)


def check_study_bounds(settings: dict, interval_days: int, window_days: int, phases: list | None,
                       default_horizon: int) -> None:
    """The clinical bounds of a study's schedule and settings (the parsers that use them check the rest)."""
    horizon_days(settings, default_horizon)
    screening_days(settings)
    _whole(interval_days, "assessment_schedule.interval_days", 1, MAX_INTERVAL_DAYS)
    _whole(window_days, "assessment_schedule.window_days", 0, MAX_WINDOW_DAYS)
    if phases is not None:
        if not isinstance(phases, list) or len(phases) > MAX_PHASES:
            raise Implausible("assessment_schedule.phases", f"must be a list of at most {MAX_PHASES} phases.",
                              "invalid_study_settings")
        for phase in phases:
            if not isinstance(phase, (list, tuple)) or len(phase) != 2:
                raise Implausible("assessment_schedule.phases", "each phase is [until_day or null, interval_days].",
                                  "invalid_study_settings")
            if phase[0] is not None:
                _whole(phase[0], "assessment_schedule.phases", 1, MAX_HORIZON_DAYS)
            _whole(phase[1], "assessment_schedule.phases", 1, MAX_INTERVAL_DAYS)
    survey = settings.get("survey")
    if survey is not None:
        if not isinstance(survey, dict):
            raise Implausible("survey", "must be an object {interval_days, window_days}.", "invalid_study_settings")
        unknown = sorted(set(survey) - {"interval_days", "window_days"})
        if unknown:
            raise Implausible("survey", f"unknown key(s) {unknown}.", "invalid_study_settings")
        if "interval_days" in survey:
            _whole(survey["interval_days"], "survey.interval_days", 1, MAX_INTERVAL_DAYS)
        if "window_days" in survey:
            _whole(survey["window_days"], "survey.window_days", 0, MAX_WINDOW_DAYS)
