"""Best overall response with confirmation, clinical benefit, duration of response and overall survival.

Pure and clock-free: the cut-off is a parameter and every date a site-local clinical ``date``.
Sources of the rules:

* RECIST 1.1 (Eisenhauer et al., Eur J Cancer 2009;45:228-247), section 4.3 "Evaluation of best
  overall response" and Table 3 "Best overall response when confirmation of CR and PR required":
  CR and PR need a second assessment "at least 4 weeks later"; SD needs a minimum interval from
  the start of treatment defined by the protocol; NE between the two assessments of a pair is
  tolerated once.
* FDA Guidance for Industry "Clinical Trial Endpoints for the Approval of Cancer Drugs and
  Biologics" (2018): ORR (confirmed CR + PR), duration of response (from the first response to
  progression or death, censored as PFS is) and overall survival (death from any cause; the
  living censored at the last date known alive).

How these rules read Table 3 (the tests hold one row for each):

* Only post-baseline assessments count (after the first dose, as PFS), up to the cut-off,
  strictly before new anticancer therapy (a scan on the therapy day is not "prior to new
  treatment", as in `schedules.pfs`), and up to and including the first PD.
* **CR**: a CR followed by a CR at least ``confirm_min_days`` later (``later - earlier >=``);
  **PR**: a CR or PR followed by a CR or PR that much later. Every assessment between the
  pair is CR, PR or NE, with at most one NE (never PD: the list stops at the first PD).
* Otherwise **SD** when a CR, PR or SD assessment is at least ``sd_min_days`` after the first
  dose (``date - first_dose >= sd_min_days``); **NON_CR_NON_PD**, its own category for patients
  without measurable disease, when only NON_CR_NON_PD assessments meet that interval.
* Otherwise **PD** when there is a PD; otherwise **NE**; no post-baseline assessment at all
  up to the cut-off is ``missing``.
* Clinical benefit: confirmed CR or PR, or SD/NON_CR_NON_PD with a CR, PR, SD or
  NON_CR_NON_PD assessment at least ``cbr_sd_min_days`` (default 183, "more than 6 months")
  after the first dose and before any PD.
* The first response date is the first assessment of the earliest confirmed pair; the
  confirmation date is the second assessment of the pair that gives the best overall response.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from scipy.stats import beta

from schedules import pfs, pfs_assessments

RESPONDING = frozenset({"CR", "PR"})
STABLE = frozenset({"CR", "PR", "SD", "NON_CR_NON_PD"})
BEST_RESPONSES = ("CR", "PR", "SD", "NON_CR_NON_PD", "PD", "NE", "missing")

#: Study settings read here, with their default and bounds (inclusive).
RESPONSE_SETTINGS: dict[str, tuple[int, int, int]] = {
    "confirm_min_days": (28, 1, 365),
    "sd_min_days": (35, 1, 365),
    "cbr_sd_min_days": (183, 1, 730),
}


@dataclass(frozen=True)
class ResponseRules:
    """The protocol's day counts (RECIST 1.1 section 4.3: the protocol defines SD's minimum)."""

    confirm_min_days: int = 28
    sd_min_days: int = 35
    cbr_sd_min_days: int = 183

    def __post_init__(self) -> None:
        for name, (_, low, high) in RESPONSE_SETTINGS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{name} must be a whole number of days from {low} to {high}, not {value!r}")

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | None) -> "ResponseRules":
        """The study's settings, defaults for those not given; ValueError naming a bad one."""
        settings = settings or {}
        return cls(**{name: settings.get(name, default) for name, (default, _, _) in RESPONSE_SETTINGS.items()})


@dataclass(frozen=True)
class TimeToEvent:
    """An event or a censoring on the contract's PFS scale: ``days = date - start + 1``."""

    status: str
    date: date
    days: int
    cnsr: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "date": self.date, "days": self.days, "cnsr": self.cnsr,
                "reason": self.reason}


@dataclass(frozen=True)
class BestResponse:
    best_overall_response: str
    confirmed: bool
    confirmed_by: tuple[date, ...]
    first_response_date: date | None
    confirmation_date: date | None
    clinical_benefit: bool


def considered_assessments(first_dose: date, assessments: Sequence[pfs_assessments.Assessment],
                           outcomes: Sequence[pfs.Outcome], cutoff: date) -> list[pfs_assessments.Assessment]:
    """Post-baseline assessments before new anticancer therapy, up to the cut-off and the first PD."""
    therapy = min((o.date for o in outcomes if o.type == "new_anticancer_therapy" and o.date <= cutoff),
                  default=None)
    post = sorted((a for a in assessments if not a.baseline and a.overall_response is not None
                   and first_dose < a.date <= cutoff and (therapy is None or a.date < therapy)),
                  key=lambda a: (a.date, a.overall_response == "PD"))
    for index, assessment in enumerate(post):
        if assessment.overall_response == "PD":
            return post[:index + 1]
    return post


def _confirmed_pairs(post: Sequence[pfs_assessments.Assessment], rules: ResponseRules) -> list[tuple[int, int]]:
    """(i, j) pairs of CR/PR assessments ``confirm_min_days`` apart with CR, PR and one NE at most
    between them, by confirming date then first date.

    For each confirming assessment j the earlier ones are walked back from j - 1: once what lies
    between holds an SD, PD or NON_CR_NON_PD, or a second NE, no earlier assessment can pair with j."""
    pairs = []
    for j, later in enumerate(post):
        if later.overall_response not in RESPONDING:
            continue
        found = []
        not_evaluable = 0
        for i in range(j - 1, -1, -1):
            earlier = post[i]
            if earlier.overall_response in RESPONDING:
                if (later.date - earlier.date).days >= rules.confirm_min_days:
                    found.append((i, j))
            elif earlier.overall_response == "NE":
                not_evaluable += 1
                if not_evaluable > 1:
                    break
            else:
                break
        pairs.extend(reversed(found))
    return pairs


def best_overall_response(first_dose: date, assessments: Sequence[pfs_assessments.Assessment],
                          outcomes: Sequence[pfs.Outcome], cutoff: date,
                          rules: ResponseRules = ResponseRules()) -> BestResponse:
    """RECIST 1.1 section 4.3 and Table 3 (confirmation required), as the module docstring reads them."""
    post = considered_assessments(first_dose, assessments, outcomes, cutoff)
    if not post:
        anything = any(not a.baseline and first_dose < a.date <= cutoff for a in assessments)
        return BestResponse("NE" if anything else "missing", False, (), None, None, False)
    pairs = _confirmed_pairs(post, rules)
    complete = [(i, j) for i, j in pairs if post[i].overall_response == post[j].overall_response == "CR"]
    chosen = complete[0] if complete else (pairs[0] if pairs else None)
    if chosen is not None:
        first = min(post[i].date for i, _ in pairs)
        i, j = chosen
        return BestResponse("CR" if complete else "PR", True, (post[i].date, post[j].date), first,
                            post[j].date, True)

    def lasting(days: int, kinds: frozenset[str]) -> bool:
        return any(a.overall_response in kinds and (a.date - first_dose).days >= days for a in post)

    if lasting(rules.sd_min_days, frozenset({"CR", "PR", "SD"})):
        bor = "SD"
    elif lasting(rules.sd_min_days, frozenset({"NON_CR_NON_PD"})):
        bor = "NON_CR_NON_PD"
    elif any(a.overall_response == "PD" for a in post):
        bor = "PD"
    else:
        bor = "NE"
    benefit = bor in ("SD", "NON_CR_NON_PD") and lasting(rules.cbr_sd_min_days, STABLE)
    return BestResponse(bor, False, (), None, None, benefit)


def duration_of_response(progression_free: pfs.PfsResult, first_response: date) -> TimeToEvent:
    """FDA 2018: DoR runs from the first CR/PR of the confirmed response to progression or death,
    censored by the same rules, in the same order, as PFS (`schedules.pfs.derive_pfs`, which the
    caller runs with a baseline assured: a responder has one by definition). ``days`` counts from
    the first response date, ``+ 1`` as PFS; a censoring date before it (therapy between the two
    confirming scans cannot happen: those scans are before therapy) is held at the first response."""
    when = max(progression_free.date, first_response)
    return TimeToEvent(progression_free.status, when, (when - first_response).days + 1,
                       progression_free.cnsr, progression_free.reason)


def with_baseline(first_dose: date, assessments: Sequence[pfs_assessments.Assessment]) -> tuple[pfs_assessments.Assessment, ...]:
    """The assessments, with a baseline on the first dose when none was recorded (for DoR only)."""
    if any(a.baseline for a in assessments):
        return tuple(assessments)
    return (pfs_assessments.Assessment(first_dose, baseline=True), *assessments)


def overall_survival(first_dose: date, death: date | None, last_known_alive: date | None,
                     cutoff: date) -> TimeToEvent:
    """FDA 2018 OS: from the first dose to death from any cause; the living are censored at the last
    date known alive (not after the cut-off, never before the first dose), reason ``ongoing``."""
    if death is not None and death <= cutoff:
        return TimeToEvent(pfs.EVENT, death, (death - first_dose).days + 1, 0, "death")
    alive = min(max(last_known_alive or first_dose, first_dose), cutoff)
    return TimeToEvent(pfs.CENSORED, alive, (alive - first_dose).days + 1, pfs.CNSR["ongoing"], "ongoing")


def last_known_alive(dates: Sequence[date | None], cutoff: date) -> date | None:
    """The latest of the given dates (visits, assessments, reports, outcomes other than death) by the cut-off."""
    return max((d for d in dates if d is not None and d <= cutoff), default=None)


def exact_interval(successes: int, trials: int, level: float = 0.95) -> tuple[float | None, float | None]:
    """Clopper-Pearson exact binomial interval (Clopper & Pearson, Biometrika 1934), as fractions."""
    if trials <= 0:
        return None, None
    if not 0 <= successes <= trials:
        raise ValueError("successes must lie between 0 and trials")
    alpha = 1 - level
    lower = 0.0 if successes == 0 else float(beta.ppf(alpha / 2, successes, trials - successes + 1))
    upper = 1.0 if successes == trials else float(beta.ppf(1 - alpha / 2, successes + 1, trials - successes))
    return lower, upper


def rate(successes: int, trials: int) -> dict[str, Any]:
    """The contract's rate: ``{"numerator", "denominator", "rate", "ci"}``, fractions, null when empty."""
    lower, upper = exact_interval(successes, trials)
    return {"numerator": successes, "denominator": trials,
            "rate": successes / trials if trials else None, "ci": [lower, upper]}


def study_day(first_dose: date, days: int) -> date:
    """The date of study day ``days`` on the ``+ 1`` scale (day 1 is the first dose)."""
    return first_dose + timedelta(days=days - 1)
