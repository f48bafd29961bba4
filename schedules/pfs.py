"""Progression-free survival: the PFS date, missed assessments and censoring.

Derived from the tumour assessments and visit statuses of `schedules.pfs_assessments`.
Pure and clock-free: every date comes in as a parameter and every date is a site-local
clinical ``date``. Sources of the rules:

* RECIST 1.1 (Eisenhauer et al., Eur J Cancer 2009;45:228-247) for progression (PD) and
  which assessments are evaluable (NE is not).
* FDA Guidance for Industry "Clinical Trial Endpoints for the Approval of Cancer Drugs and
  Biologics" (2018), the example table of PFS dates of progression or censoring; each rule
  below names the row it implements.

Interpretive choices (kept here so reviewers and the tests agree on them):

* Only post-baseline assessments count: ``baseline=False`` and dated after the first dose
  (a scan on the day of the first dose precedes dosing). Data dated after ``as_of`` is
  ignored, so a past ``as_of`` reproduces what was known then.
* Tumour follow-up ends at the earliest ``follow_up_ended``; nothing after it is used (a
  death recorded later in survival follow-up does not make a PFS event).
  ``treatment_discontinued`` does not end it: scans continue.
* New anticancer therapy "before progression or death" means strictly before: progression
  or death on the day therapy starts is still an event. A scan on the therapy day is not
  "prior to new treatment" and does not count as the censoring date, though the visit it
  attends is shown ``done``.
* Progression and death on the same day: the event is reported as ``progression``.
* Missed assessments are counted after the anchor L (last adequate assessment before the
  reference date, else the first dose): visits whose window opens after L, closed before the
  reference date, with status ``missed`` or ``ne_only``. Because L is the last adequate scan,
  every such visit is either attended by L itself or one of these, so they are consecutive.
  A visit attended early/late (even by the progression scan) is not missed.
* ``visits`` lists every scheduled visit while the evaluation runs to ``as_of``; once it
  stopped earlier (event, therapy, end of follow-up) visits still ``upcoming`` are left out.
* ``at_risk`` is computed only for ``ongoing`` patients (events and final censorings are
  not at risk). ``visits`` rule: one missed visit gives ``protect_deadline`` = last day of
  the next scheduled window; with two or more missed an event now would already be
  censored, so ``at_risk`` stays true and ``protect_deadline`` is ``None`` until an adequate
  scan resets L. ``gap`` rule: the deadline is ``L + 2 x interval + window``; past it
  ``at_risk`` is true and ``protect_deadline`` ``None``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from schedules.pfs_assessments import (
    MISSED,
    NE_ONLY,
    UPCOMING,
    Assessment,
    AssessmentPlan,
    ScheduledAssessment,
    VisitStatus,
    visit_statuses,
)

OUTCOME_TYPES = frozenset(
    {"death", "new_anticancer_therapy", "treatment_discontinued", "follow_up_ended"}
)
MISSED_RULES = ("visits", "gap")

_NOT_ADEQUATE = frozenset({MISSED, NE_ONLY})

EVENT, CENSORED = "event", "censored"
# cnsr codes and reasons as in the HTTP contract.
CNSR = {
    "progression": 0,
    "death": 0,
    "ongoing": 1,
    "no_baseline": 2,
    "new_anticancer_therapy": 4,
    "missed_assessments": 5,
    "follow_up_ended": 6,
}


@dataclass(frozen=True)
class Outcome:
    """A dated patient outcome that can end or interrupt tumour follow-up."""

    type: str
    date: date

    def __post_init__(self) -> None:
        if self.type not in OUTCOME_TYPES:
            raise ValueError(f"unknown outcome type {self.type!r}")


@dataclass(frozen=True)
class PfsResult:
    """PFS outcome on ``as_of``; ``cnsr`` and ``reason`` as in the HTTP contract."""

    status: str
    date: date
    days: int
    cnsr: int
    reason: str
    last_adequate_assessment: date | None
    consecutive_missed: int
    at_risk: bool
    protect_deadline: date | None
    visits: tuple[VisitStatus, ...]

    def to_dict(self) -> dict[str, Any]:
        """The contract's PFS body; dates stay ``date`` objects for the API to serialise."""
        return {
            "status": self.status,
            "date": self.date,
            "days": self.days,
            "cnsr": self.cnsr,
            "reason": self.reason,
            "last_adequate_assessment": self.last_adequate_assessment,
            "consecutive_missed": self.consecutive_missed,
            "at_risk": self.at_risk,
            "protect_deadline": self.protect_deadline,
            "visits": [visit.to_dict() for visit in self.visits],
        }


def derive_pfs(
    first_dose: date,
    schedule: Sequence[ScheduledAssessment],
    assessments: Sequence[Assessment],
    outcomes: Sequence[Outcome],
    as_of: date,
    missed_rule: str = "visits",
    interval_days: int = 42,
    window_days: int = 7,
    phases: Sequence[tuple[int | None, int]] = (),
) -> PfsResult:
    """PFS status, date and censoring on ``as_of``; rules applied in the FDA table's order.

    1. No baseline scan: censored at the first dose (row "No baseline tumor assessments";
       Cadence has no randomisation date, the first dose is day 1).
    2. New anticancer therapy strictly before progression or death: censored at the last
       adequate assessment before the therapy date (row "New anticancer treatment started").
    3. Progression or death after two or more missed visits (``visits``) or more than
       ``2 x interval + window`` days after L (``gap``): censored at L (row "Death or
       progression after more than one missed visit").
    4. Otherwise progression or death is the event, at the earlier date (rows "Progression
       documented between scheduled visits", "Death before first PD assessment", "Death
       between adequate assessment visits").
    5. Otherwise censored at the last adequate assessment (row "No progression";
       ``treatment_discontinued`` is row "Treatment discontinuation for ... other reason"
       and changes nothing), ``follow_up_ended`` when tumour follow-up stopped.
    """
    if missed_rule not in MISSED_RULES:
        raise ValueError(f"missed_rule must be one of {MISSED_RULES}, not {missed_rule!r}")
    known = [a for a in assessments if a.date <= as_of]
    known_outcomes = [o for o in outcomes if o.date <= as_of]
    follow_up_end = _earliest(known_outcomes, "follow_up_ended", as_of)
    horizon = min(as_of, follow_up_end) if follow_up_end else as_of

    post = sorted(
        (a for a in known if not a.baseline and first_dose < a.date <= horizon),
        key=lambda a: (a.date, a.overall_response == "PD"),
    )
    progression = next((a for a in post if a.overall_response == "PD"), None)
    if progression is not None:
        post = post[: post.index(progression) + 1]
    # Adequate scans before progression (assessments after the first PD are ignored).
    adequate = [a.date for a in post if a.adequate and a is not progression]

    death = _earliest(known_outcomes, "death", horizon)
    therapy = _earliest(known_outcomes, "new_anticancer_therapy", horizon)
    # Progression is listed first so that it wins a same-day tie with death.
    events: list[tuple[date, str]] = []
    if progression is not None:
        events.append((progression.progression_date, "progression"))
    if death is not None:
        events.append((death, "death"))
    event_date, event_reason = min(events, key=lambda e: e[0]) if events else (None, "")

    def last_adequate(on_or_before: date) -> date | None:
        return max((d for d in adequate if d <= on_or_before), default=None)

    # The progression scan is the event, not an attendance: windows that closed before it without an
    # adequate assessment count as missed even when the PD scan falls just after one of them.
    before_event = [a for a in post if a is not progression] if progression is not None else post
    judged: dict[tuple[int, date], tuple[VisitStatus, ...]] = {}

    def statuses(scans: list[Assessment], on: date) -> tuple[VisitStatus, ...]:
        """`visit_statuses`, once per list of scans and date (the rules below ask the same twice)."""
        key = (id(scans), on)
        if key not in judged:
            judged[key] = visit_statuses(schedule, scans, on)
        return judged[key]

    def build(
        status: str,
        reason: str,
        when: date,
        last: date | None,
        cutoff: date,
        reference: date,
        terminated: bool,
    ) -> PfsResult:
        visits = statuses(post, cutoff)
        anchor = last or first_dose
        missed = _missed_since(statuses(before_event, cutoff), anchor, reference)
        at_risk, deadline = False, None
        if reason == "ongoing":
            at_risk, deadline = _early_warning(
                schedule, missed, AssessmentPlan(interval_days, window_days, tuple(phases)), first_dose
            )
        if terminated:
            visits = tuple(v for v in visits if v.status != UPCOMING)
        return PfsResult(
            status=status,
            date=when,
            days=(when - first_dose).days + 1,
            cnsr=CNSR[reason],
            reason=reason,
            last_adequate_assessment=last,
            consecutive_missed=len(missed),
            at_risk=at_risk,
            protect_deadline=deadline,
            visits=visits,
        )

    stops = [
        d for d in (progression.date if progression else None, death, therapy, follow_up_end)
        if d is not None
    ]
    end = min([horizon, *stops])

    # (1) No baseline tumor assessments.
    if not any(a.baseline for a in known):
        return build(CENSORED, "no_baseline", first_dose, last_adequate(end), end, end,
                     terminated=bool(stops))

    # (2) New anticancer treatment started (strictly before progression or death).
    if therapy is not None and (event_date is None or therapy < event_date):
        last = last_adequate(therapy - timedelta(days=1))
        return build(CENSORED, "new_anticancer_therapy", last or first_dose, last,
                     therapy, therapy, terminated=True)

    if event_date is not None:
        last = last_adequate(event_date)
        anchor = last or first_dose
        cutoff = progression.date if event_reason == "progression" and progression else event_date
        # (3) Death or progression after more than one missed visit.
        if missed_rule == "gap":
            censor = (event_date - anchor).days > 2 * interval_days + window_days
        else:
            visits = statuses(before_event, cutoff)
            censor = len(_missed_since(visits, anchor, event_date)) >= 2
        if censor:
            return build(CENSORED, "missed_assessments", anchor, last, cutoff, event_date,
                         terminated=True)
        # (4) Progression or death is the event.
        return build(EVENT, event_reason, event_date, last, cutoff, event_date,
                     terminated=True)

    # (5) No progression: censored at the last adequate assessment.
    last = last_adequate(horizon)
    reason = "follow_up_ended" if follow_up_end is not None else "ongoing"
    return build(CENSORED, reason, last or first_dose, last, horizon, horizon,
                 terminated=follow_up_end is not None)


def _earliest(outcomes: Sequence[Outcome], kind: str, until: date) -> date | None:
    return min((o.date for o in outcomes if o.type == kind and o.date <= until), default=None)


def _missed_since(
    visits: Sequence[VisitStatus], anchor: date, before: date
) -> list[VisitStatus]:
    """Visits opening after ``anchor`` whose window closed before ``before`` unattended."""
    return [
        v for v in visits
        if v.window_start > anchor and v.window_end < before and v.status in _NOT_ADEQUATE
    ]


def _early_warning(
    schedule: Sequence[ScheduledAssessment],
    missed: Sequence[VisitStatus],
    plan: AssessmentPlan,
    first_dose: date,
) -> tuple[bool, date | None]:
    """(at_risk, protect_deadline) after the last adequate assessment L: one missed assessment puts
    the patient at risk, and an adequate scan by the last day of the next scheduled window keeps a
    later event countable. Two or more missed: still at risk, nothing left to protect until a new
    adequate scan (the same for both missed-assessment rules)."""
    if len(missed) != 1:
        return bool(missed), None
    after = missed[0].target_date
    later = [v for v in sorted(schedule, key=lambda v: v.target_date) if v.target_date > after]
    if not later:  # the caller's schedule stops at the missed visit: plan the next one
        longest = max([plan.interval_days, *(interval for _, interval in plan.phases)])
        later = [v for v in plan.visits(first_dose, after + timedelta(days=longest + plan.window_days))
                 if v.target_date > after]
    return True, (later[0].window_end if later else None)
