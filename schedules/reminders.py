"""Reminder planning: which reminders a calendar event gets, at which local wall-clock time, and when
that is in UTC. Pure: no clock, no database; `now` and the zone are parameters.

Default policy (Cadence issue "Reminders that are never lost and never sent twice"; a study overrides
any part of it in `Study.settings["reminder_policy"]`, see `parse_policy`):

| event kind         | rule                     | when (local wall clock)                  | audience |
|--------------------|--------------------------|------------------------------------------|----------|
| `dose`             | `dose.evening_before`    | the day before, 18:00                    | patient  |
| `dose`             | `dose.morning_of`        | the day itself, 07:30 (not moved by quiet hours, below) | patient |
| `tumor_assessment` | `assessment.days_before` | 3 days before, 18:00 (our choice: the same evening hour as the day-before one) | patient |
| `tumor_assessment` | `assessment.day_before`  | the day before, 18:00                    | patient  |
| `symptom_survey`   | `survey.open`            | the day it opens (target date), 09:00    | patient  |
| `symptom_survey`   | `survey.nudge`           | a day later, 09:00, if still not done    | patient  |
| `symptom_survey`   | `survey.call_patient`    | 3 days after opening, 09:00: a task for the site coordinators to call | staff |
| `dosing_diary`     | –                        | no reminders                             |          |

"After 24 hours" is read as the same wall-clock time one calendar day later, so a DST night does not
turn the 09:00 nudge into 08:00 or 10:00.

Quiet hours (default 21:00–08:00 local; both ends are allowed send times, the time strictly between is
quiet): a patient reminder that falls inside them moves to the end of the quiet period (08:00), unless
that is after the event starts — then it moves back to the start of the quiet period (21:00 the
evening before), the latest allowed time before quiet hours. The event starts at the study's visit time
for its kind (`visit_time`, default 09:00 for dosing visits and tumour assessments); a survey "starts"
at the end of its due day. Decision recorded here: the default `dose.morning_of` rule is exempt
(`"quiet_hours": false`) because the issue asks for it at 07:30 precisely, before the patient leaves
for the clinic; every other rule, and any rule a study adds, respects quiet hours unless it says
otherwise. Staff tasks never do (they go to the staff outbox, not to a patient's phone).

Time zones (PEP 495, zoneinfo): wall-clock times are converted in the patient's zone when planned, so
07:30 stays 07:30 local across DST changes. A local time that does not exist (spring-forward gap) is
read with fold=0, i.e. with the offset in force before the transition, which lands it *forward* by the
length of the gap (02:30 on 2026-03-08 in New York is sent at 03:30 EDT = 07:30Z). A local time that
occurs twice (fall-back) is read with fold=0 too: its *first* occurrence (01:30 on 2026-11-01 in New
York is 01:30 EDT = 05:30Z).
"""
from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Rule name → message catalog key (notifications/messages.py documents the keys and their params).
RULE_MESSAGES: dict[str, str] = {
    "dose.evening_before": "reminder.dose.evening_before",
    "dose.morning_of": "reminder.dose.morning_of",
    "assessment.days_before": "reminder.assessment.days_before",
    "assessment.day_before": "reminder.assessment.day_before",
    "survey.open": "reminder.survey.open",
    "survey.nudge": "reminder.survey.nudge",
    "survey.call_patient": "staff.survey_call_patient",
}
# Rules whose message has a variant that says the booked time (a scan booked for 09:30).
BOOKED_MESSAGES: dict[str, str] = {
    "assessment.days_before": "reminder.assessment.days_before.booked",
    "assessment.day_before": "reminder.assessment.day_before.booked",
}
RULE_KINDS: dict[str, str] = {
    "dose.evening_before": "dose", "dose.morning_of": "dose",
    "assessment.days_before": "tumor_assessment", "assessment.day_before": "tumor_assessment",
    "survey.open": "symptom_survey", "survey.nudge": "symptom_survey", "survey.call_patient": "symptom_survey",
}
STAFF_RULES = frozenset({"survey.call_patient"})
EVENT_KINDS = ("dose", "dosing_diary", "tumor_assessment", "symptom_survey")

# A patient reminder is sent only while its event is still planned. The coordinator's call task is
# for a survey that is "still not completed", which includes one the calendar has marked missed.
PATIENT_ACTIVE_STATUSES = frozenset({"planned"})
STAFF_ACTIVE_STATUSES = frozenset({"planned", "missed"})

DEFAULT_POLICY: dict[str, Any] = {
    "quiet_hours": {"start": "21:00", "end": "08:00"},
    "visit_time": {"dose": "09:00", "tumor_assessment": "09:00"},
    "rules": {
        "dose": [
            {"rule": "dose.evening_before", "day": -1, "at": "18:00"},
            {"rule": "dose.morning_of", "day": 0, "at": "07:30", "quiet_hours": False},
        ],
        "tumor_assessment": [
            {"rule": "assessment.days_before", "day": -3, "at": "18:00"},
            {"rule": "assessment.day_before", "day": -1, "at": "18:00"},
        ],
        "symptom_survey": [
            {"rule": "survey.open", "day": 0, "at": "09:00"},
            {"rule": "survey.nudge", "day": 1, "at": "09:00"},
            {"rule": "survey.call_patient", "day": 3, "at": "09:00"},
        ],
        "dosing_diary": [],
    },
}


class PolicyError(ValueError):
    """A reminder policy that cannot be used; `field` names the offending setting."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class QuietHours:
    """Local times strictly between `start` and `end` are quiet; the window may cross midnight."""

    start: time
    end: time

    def contains(self, value: time) -> bool:
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start < value < self.end
        return value > self.start or value < self.end

    def period_around(self, moment: datetime) -> tuple[datetime, datetime]:
        """(start, end) wall-clock datetimes of the quiet period that contains `moment`."""
        day = moment.date()
        if self.start < self.end:
            return datetime.combine(day, self.start), datetime.combine(day, self.end)
        if moment.time() > self.start:
            return datetime.combine(day, self.start), datetime.combine(day + timedelta(days=1), self.end)
        return datetime.combine(day - timedelta(days=1), self.start), datetime.combine(day, self.end)


@dataclass(frozen=True)
class ReminderRule:
    name: str
    day: int  # calendar days from the event's target date (-1: the day before)
    at: time  # local wall-clock time
    quiet_hours: bool = True

    @property
    def audience(self) -> str:
        return "staff" if self.name in STAFF_RULES else "patient"

    @property
    def message_key(self) -> str:
        return RULE_MESSAGES[self.name]

    @property
    def active_statuses(self) -> frozenset[str]:
        return STAFF_ACTIVE_STATUSES if self.name in STAFF_RULES else PATIENT_ACTIVE_STATUSES


@dataclass(frozen=True)
class ReminderPolicy:
    rules: Mapping[str, tuple[ReminderRule, ...]]
    quiet_hours: QuietHours | None
    visit_times: Mapping[str, time]

    def rules_for(self, kind: str) -> tuple[ReminderRule, ...]:
        return self.rules.get(kind, ())

    def rule(self, name: str) -> ReminderRule | None:
        for rules in self.rules.values():
            for rule in rules:
                if rule.name == name:
                    return rule
        return None


@dataclass(frozen=True)
class PlannedReminder:
    rule: ReminderRule
    local: datetime  # naive wall-clock time in the planning zone, after quiet hours
    send_at: datetime  # aware UTC
    moved: str | None = None  # "quiet_hours_end" | "quiet_hours_start" when quiet hours moved it


def parse_time(value: Any, field: str) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, str):
        try:
            parsed = time.fromisoformat(value)
        except ValueError:
            pass
        else:
            if parsed.tzinfo is None:
                return parsed
    raise PolicyError(field, f"expected a local time such as '18:00', got {value!r}")


def parse_quiet_hours(value: Any, field: str = "quiet_hours") -> QuietHours | None:
    """`{"start": "21:00", "end": "08:00"}`, the string "21:00-08:00", or None (no quiet hours)."""
    if value is None or value == "" or value is False:
        return None
    if isinstance(value, str):
        start, sep, end = value.partition("-")
        if not sep:
            raise PolicyError(field, f"expected 'HH:MM-HH:MM', got {value!r}")
        value = {"start": start.strip(), "end": end.strip()}
    if not isinstance(value, Mapping) or set(value) != {"start", "end"}:
        raise PolicyError(field, "expected {'start': 'HH:MM', 'end': 'HH:MM'}")
    return QuietHours(parse_time(value["start"], f"{field}.start"), parse_time(value["end"], f"{field}.end"))


@functools.lru_cache(maxsize=256)
def _parse_cached(key: str) -> ReminderPolicy:
    import json

    settings, default_quiet = json.loads(key)
    return _parse(settings, default_quiet)


def parse_policy(settings: Mapping[str, Any] | None, *, default_quiet_hours: Any = "__policy__") -> ReminderPolicy:
    """The default policy with a study's `reminder_policy` settings laid over it.

    Keys: `quiet_hours` (object, "HH:MM-HH:MM" or null for none), `visit_time` ({kind: "HH:MM"}) and
    `rules` ({kind: [{"rule", "day", "at", "quiet_hours"?}, ...]}: a kind listed replaces its default
    rules; `[]` switches that kind's reminders off). `default_quiet_hours` replaces the built-in quiet
    hours when the study does not set its own (the QUIET_HOURS setting). Results are cached.
    """
    import json

    try:
        key = json.dumps([dict(settings or {}), default_quiet_hours], sort_keys=True, default=str)
    except TypeError:
        raise PolicyError("reminder_policy", "must be a JSON object") from None
    return _parse_cached(key)


def _parse(settings: Any, default_quiet_hours: Any) -> ReminderPolicy:
    if not isinstance(settings, Mapping):
        raise PolicyError("reminder_policy", "must be an object")
    unknown = set(settings) - {"quiet_hours", "visit_time", "rules"}
    if unknown:
        raise PolicyError("reminder_policy", f"unknown key(s) {sorted(unknown)}")
    if "quiet_hours" in settings:
        quiet = parse_quiet_hours(settings["quiet_hours"], "reminder_policy.quiet_hours")
    elif default_quiet_hours != "__policy__":
        quiet = parse_quiet_hours(default_quiet_hours, "QUIET_HOURS")
    else:
        quiet = parse_quiet_hours(DEFAULT_POLICY["quiet_hours"])

    visit_raw = {**DEFAULT_POLICY["visit_time"], **dict(settings.get("visit_time") or {})}
    visit_times = {}
    for kind, value in visit_raw.items():
        if kind not in EVENT_KINDS:
            raise PolicyError("reminder_policy.visit_time", f"unknown event kind {kind!r}")
        visit_times[kind] = parse_time(value, f"reminder_policy.visit_time.{kind}")

    rules_raw = {**DEFAULT_POLICY["rules"], **dict(settings.get("rules") or {})}
    rules: dict[str, tuple[ReminderRule, ...]] = {}
    seen: set[str] = set()
    for kind, entries in rules_raw.items():
        field = f"reminder_policy.rules.{kind}"
        if kind not in EVENT_KINDS:
            raise PolicyError("reminder_policy.rules", f"unknown event kind {kind!r}")
        if not isinstance(entries, list):
            raise PolicyError(field, "must be a list of rules")
        parsed = []
        for entry in entries:
            parsed.append(_parse_rule(kind, entry, field))
            if parsed[-1].name in seen:
                raise PolicyError(field, f"rule {parsed[-1].name!r} is listed twice")
            seen.add(parsed[-1].name)
        rules[kind] = tuple(parsed)
    return ReminderPolicy(rules=rules, quiet_hours=quiet, visit_times=visit_times)


def _parse_rule(kind: str, entry: Any, field: str) -> ReminderRule:
    if not isinstance(entry, Mapping) or not {"rule", "day", "at"} <= set(entry) \
            or set(entry) - {"rule", "day", "at", "quiet_hours"}:
        raise PolicyError(field, "each rule is {'rule', 'day', 'at', 'quiet_hours'?}")
    name = entry["rule"]
    if RULE_KINDS.get(name) != kind:
        raise PolicyError(field, f"unknown rule {name!r} for {kind} events; known: "
                                 f"{sorted(r for r, k in RULE_KINDS.items() if k == kind)}")
    day = entry["day"]
    if not isinstance(day, int) or isinstance(day, bool) or not -60 <= day <= 60:
        raise PolicyError(field, f"'day' must be a whole number of days between -60 and 60, got {day!r}")
    if name == "assessment.days_before" and day > -2:
        raise PolicyError(field, "assessment.days_before needs day <= -2 (use assessment.day_before for -1)")
    quiet = entry.get("quiet_hours", True)
    if not isinstance(quiet, bool):
        raise PolicyError(field, "'quiet_hours' must be true or false")
    return ReminderRule(name=name, day=day, at=parse_time(entry["at"], f"{field}.at"), quiet_hours=quiet)


# --- time zones ------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise PolicyError("timezone", f"unknown IANA time zone {name!r}") from None


def local_to_utc(local: datetime, zone_name: str) -> datetime:
    """Aware UTC instant of a naive local wall-clock time (fold=0: gaps resolve forward, repeats to
    their first occurrence; see the module docstring)."""
    if local.tzinfo is not None:
        raise TypeError("pass a naive local wall-clock datetime")
    return local.replace(tzinfo=zone(zone_name), fold=0).astimezone(timezone.utc)


# --- planning ------------------------------------------------------------------------------------------
def event_start(kind: str, target_date: date, window_end: date | None, policy: ReminderPolicy) -> datetime:
    """Local wall-clock moment the event is taken to begin, for the quiet-hours rule."""
    if kind == "symptom_survey":
        due = max(window_end or target_date, target_date)
        return datetime.combine(due + timedelta(days=1), time(0, 0))
    return datetime.combine(target_date, policy.visit_times.get(kind, time(0, 0)))


def apply_quiet_hours(local: datetime, deadline: datetime, quiet: QuietHours | None) -> tuple[datetime, str | None]:
    if quiet is None or not quiet.contains(local.time()):
        return local, None
    start, end = quiet.period_around(local)
    if end <= deadline:
        return end, "quiet_hours_end"
    return start, "quiet_hours_start"


def plan_event(kind: str, target_date: date, window_end: date | None, policy: ReminderPolicy,
               zone_name: str) -> list[PlannedReminder]:
    """Every reminder the policy gives an event, past or future, in rule order."""
    planned = []
    deadline = event_start(kind, target_date, window_end, policy)
    for rule in policy.rules_for(kind):
        local = datetime.combine(target_date + timedelta(days=rule.day), rule.at)
        moved = None
        if rule.quiet_hours and rule.audience == "patient":
            local, moved = apply_quiet_hours(local, deadline, policy.quiet_hours)
        planned.append(PlannedReminder(rule=rule, local=local, send_at=local_to_utc(local, zone_name), moved=moved))
    return planned


def message_key(rule: ReminderRule, appointment_time: time | None = None) -> str:
    """The catalog key of the rule's message: a booked scan's reminders say its time (`….booked`);
    dose reminders always say a time (the booked one, else the study's visit time)."""
    if appointment_time is not None and rule.name in BOOKED_MESSAGES:
        return BOOKED_MESSAGES[rule.name]
    return rule.message_key


def message_params(rule: ReminderRule, kind: str, target_date: date, window_end: date | None,
                   policy: ReminderPolicy, appointment_time: time | None = None) -> dict[str, Any]:
    """Parameters for the rule's catalog message (dates stay `date`: the renderer formats them).
    `appointment_time`: the visit's booked wall-clock time (site's zone), which the message says
    instead of the study's default visit time."""
    due = max(window_end or target_date, target_date)
    visit = appointment_time or policy.visit_times.get(kind, time(9, 0))
    return {
        "dose.evening_before": lambda: {"date": target_date, "time": visit},
        "dose.morning_of": lambda: {"time": visit},
        "assessment.days_before": lambda: {"days": -rule.day, "date": target_date, "time": visit},
        "assessment.day_before": lambda: {"date": target_date, "time": visit},
        "survey.open": lambda: {"date": due},
        "survey.nudge": lambda: {"date": due},
        "survey.call_patient": lambda: {"deadline": due},
    }[rule.name]()
