"""A study's settings, read and checked in one place (`Study.settings`).

Every service that needs a study setting asks this module, and this module imports no service that
acts on patients, reports or alerts, so `studies`, `symptoms` and `alerts` no longer import each other.

Settings and their sources:
- `symptom_panel`: PRO-CTCAE term numbers (NCI item library numbering); `DEFAULT_HER2_PANEL` when unset.
- `alert_rules`: `schedules.symptom_alerts.AlertRules` fields (Basch et al. 2021 composite grades,
  PRO-CTCAE severity scale); `AlertRules()` when unset.
- `alert_escalation_hours`: hours an alert may stay open before the coordinators are told (24).
- `regimen_overrides`, `reminder_policy`, `survey`, `planning_horizon_days`: parsed by the code that
  uses them (`services.regimens`, `services.reminders`, `schedules.calendars`).
"""
from __future__ import annotations

from backend.errors import Conflict, DomainError, InvalidInput
from backend.models import Study
from backend.services.regimens import regimen_for
from backend.services.reminders import reminder_policy
from schedules.calendars import AssessmentSchedule, SurveySchedule
from schedules.proctcae import DEFAULT_HER2_PANEL, SymptomPanel, term_catalog
from schedules.symptom_alerts import AlertRules

DEFAULT_ESCALATION_HOURS = 24

KNOWN_SETTINGS = frozenset({
    "regimen_overrides", "survey", "planning_horizon_days", "symptom_panel", "alert_rules",
    "alert_escalation_hours", "reminder_policy", "screening_period_days",
    "confirm_min_days", "sd_min_days", "cbr_sd_min_days",
})
# The JSON type each setting must have before the code that uses it parses it.
SETTING_TYPES: dict[str, tuple[type, ...]] = {
    "regimen_overrides": (dict,), "survey": (dict,), "planning_horizon_days": (int,), "symptom_panel": (list,),
    "alert_rules": (dict,), "alert_escalation_hours": (int, float), "reminder_policy": (dict,),
    "screening_period_days": (int,), "confirm_min_days": (int,), "sd_min_days": (int,), "cbr_sd_min_days": (int,),
}


class StudySettingsInvalid(Conflict):
    """A study's settings cannot be used as they stand: the answer names the setting to fix."""

    reason = "study_settings_invalid"


def study_panel(study: Study) -> SymptomPanel:
    """The study's survey panel: `settings["symptom_panel"]`, a list of PRO-CTCAE term numbers
    (NCI item library numbering); `DEFAULT_HER2_PANEL` when the study sets none."""
    numbers = (study.settings or {}).get("symptom_panel")
    if numbers is None:
        return DEFAULT_HER2_PANEL
    catalog = term_catalog()
    if (not isinstance(numbers, list) or not numbers
            or not all(isinstance(n, int) and not isinstance(n, bool) and n in catalog for n in numbers)):
        raise StudySettingsInvalid(
            f"Study {study.code}: settings.symptom_panel must be a non-empty list of PRO-CTCAE term numbers "
            f"(1..{max(catalog)}), not {numbers!r}.")
    return SymptomPanel(name=f"study:{study.code}", term_numbers=tuple(numbers))


def study_alert_rules(study: Study) -> AlertRules:
    """`settings["alert_rules"]`: an object with any of `composite_grade_at_least`,
    `severity_at_least`, `rise_at_least` (null switches a rule off); `AlertRules()` when not set."""
    raw = (study.settings or {}).get("alert_rules")
    if raw is None:
        return AlertRules()
    try:
        if not isinstance(raw, dict):
            raise TypeError("an object is needed")
        return AlertRules(**raw)
    except (TypeError, ValueError) as error:
        raise StudySettingsInvalid(f"Study {study.code}: settings.alert_rules is unusable ({error}).") from None


def escalation_hours(study: Study) -> float:
    """`settings["alert_escalation_hours"]`: hours an alert may stay open (> 0); 24 when not set."""
    raw = (study.settings or {}).get("alert_escalation_hours", DEFAULT_ESCALATION_HOURS)
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw <= 0:
        raise StudySettingsInvalid(
            f"Study {study.code}: settings.alert_escalation_hours must be a positive number, not {raw!r}.")
    return raw


def validate_study_settings(study: Study) -> None:
    """Refuse, at set-up, settings that would otherwise fail when a patient is planned, a report is
    graded or a reminder is planned: every policy is parsed by the code that will use it."""
    from backend.services.calendar_inputs import DEFAULT_HORIZON_DAYS
    from schedules.plausibility import Implausible, check_study_bounds
    from schedules.response import ResponseRules

    settings = study.settings or {}
    if not isinstance(settings, dict):
        raise InvalidInput("settings", "Settings are a JSON object.", reason="invalid_study_settings")
    unknown = sorted(set(settings) - KNOWN_SETTINGS)
    if unknown:
        raise InvalidInput("settings", f"Unknown setting(s): {', '.join(unknown)}; known: "
                                       f"{', '.join(sorted(KNOWN_SETTINGS))}.")
    for name, types in SETTING_TYPES.items():
        value = settings.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, types)):
            kind = {dict: "an object", list: "a list", int: "a whole number", float: "a number"}[types[0]]
            raise InvalidInput("settings", f"{name} must be {kind}.", reason="invalid_study_settings")
    try:
        check_study_bounds(settings, study.assessment_interval_days, study.assessment_window_days,
                           study.assessment_phases, DEFAULT_HORIZON_DAYS)
    except Implausible as error:
        field = "assessment_schedule" if error.field.startswith("assessment_schedule") else "settings"
        raise InvalidInput(field, f"{error.field}: {error.message}", reason=error.reason) from None
    try:
        AssessmentSchedule(study.assessment_interval_days, study.assessment_window_days,
                           tuple(tuple(phase) for phase in study.assessment_phases or ()))
    except (TypeError, ValueError) as error:
        raise InvalidInput("assessment_schedule", str(error)) from None
    try:
        SurveySchedule(**{key: int(value) for key, value in (settings.get("survey") or {}).items()})
        horizon = settings.get("planning_horizon_days", 730)
        if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
            raise ValueError(f"planning_horizon_days must be a positive whole number, not {horizon!r}")
    except (TypeError, ValueError) as error:
        raise InvalidInput("settings", f"Calendar settings: {error}") from None
    try:
        ResponseRules.from_settings(settings)
    except ValueError as error:
        raise InvalidInput("settings", f"Response settings: {error}") from None
    checks = [("regimen_overrides", lambda: [regimen_for(study, code) for code in settings.get("regimen_overrides") or {}]),
              ("symptom_panel", lambda: study_panel(study)), ("alert_rules", lambda: study_alert_rules(study)),
              ("alert_escalation_hours", lambda: escalation_hours(study)),
              ("reminder_policy", lambda: reminder_policy(study))]
    for name, check in checks:
        try:
            check()
        except DomainError as error:
            raise InvalidInput("settings", error.message, reason="invalid_study_settings") from None
        except (TypeError, ValueError, KeyError, AttributeError) as error:
            # A parser that did not expect this shape: still the client's setting, never a 500.
            raise InvalidInput("settings", f"{name}: {error}", reason="invalid_study_settings") from None
