"""Render notification texts from the per-locale catalogs in `messages/<locale>.json`.

Every user-visible sentence lives in a catalog with `{name}` placeholders, so translators see whole
sentences and word order can differ per language; code only fills in values. Dates and times passed
as `datetime.date` / `datetime.time` are formatted for the locale here, from the catalog's `date`
section, not through the process-wide `locale` module (not thread-safe, and zh_CN may not be
installed on the server).

Audience: keys starting with `staff.` are for staff e-mail; every other key is patient-facing and may
be shown on a lock screen, so it must never name a diagnosis, drug or study (a test enforces this).

| Key                                   | Params                           |
|---------------------------------------|----------------------------------|
| `reminder.dose.evening_before`        | `date`, `time`                   |
| `reminder.dose.morning_of`            | `time`                           |
| `reminder.assessment.days_before`     | `days`, `date` (use for days ≥ 2) |
| `reminder.assessment.day_before`      | `date`                           |
| `reminder.assessment.days_before.booked` | `days`, `date`, `time` (a booked scan) |
| `reminder.assessment.day_before.booked`  | `date`, `time` (a booked scan)   |
| `reminder.survey.open`                | `date` (due date)                |
| `reminder.survey.nudge`               | `date` (due date)                |
| `alert.symptom.patient_contact_team`  | –                                |
| `alert.symptom.patient_contact_team.phone` | `phone`, `hours`, `out_of_hours` (the site's care team) |
| `staff.symptom_alert`                 | `subject_id`, `symptoms`         |
| `staff.pfs_at_risk`                   | `subject_id`, `deadline`         |
| `staff.pfs_deadline_near`             | `subject_id`, `deadline`         |
| `staff.survey_call_patient`           | `subject_id`, `deadline`         |
| `staff.alert_escalated`               | `subject_id`, `symptoms`, `minutes` |

`symptoms` is a list of findings `{"term", "rule", "level", "since"}` (the most serious first); each is
put in words from the catalog's `alert_rules` section ("Nausea (severe: grade 3 of 4)"), so a staff
message names no rule slug and reads in one language.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CATALOG_DIR = Path(__file__).with_name("messages")
DEFAULT_LOCALE = "en"
SUPPORTED_LOCALES = ("en", "zh-CN")
STAFF_PREFIX = "staff."

# Primary language subtag → the catalog that serves it ("zh-Hans", "zh_CN", "zh" → zh-CN).
_BY_LANGUAGE = {"en": "en", "zh": "zh-CN"}


@dataclass(frozen=True)
class RenderedMessage:
    title: str
    body: str


class MessageCatalogError(LookupError):
    """A message cannot be rendered; always a programming error, never the recipient's fault."""


class UnknownMessageKey(MessageCatalogError):
    pass


class MissingMessageParameter(MessageCatalogError):
    pass


def resolve_locale(locale: str | None) -> str:
    """The supported locale to use; unknown locales get English rather than an error."""
    if not locale:
        return DEFAULT_LOCALE
    normalized = locale.replace("_", "-").strip()
    for supported in SUPPORTED_LOCALES:
        if normalized.lower() == supported.lower():
            return supported
    return _BY_LANGUAGE.get(normalized.split("-", 1)[0].lower(), DEFAULT_LOCALE)


@functools.cache
def load_catalog(locale: str) -> dict[str, Any]:
    """The parsed catalog of a supported locale, read once per process on first use."""
    with (CATALOG_DIR / f"{locale}.json").open(encoding="utf-8") as f:
        return json.load(f)


def is_patient_facing(message_key: str) -> bool:
    return not message_key.startswith(STAFF_PREFIX)


def format_local_date(value: dt.date, locale: str) -> str:
    """A short local date: en "Tue 3 Mar", zh-CN "3月3日 周二" (no year: reminders are near)."""
    if isinstance(value, dt.datetime):
        raise TypeError("format_local_date takes a date; convert instants to the patient's zone first")
    names = load_catalog(resolve_locale(locale))["date"]
    return names["format"].format_map(
        {"weekday": names["weekdays"][value.weekday()], "day": value.day, "month": names["months"][value.month - 1]}
    )


def render(message_key: str, locale: str | None, **params: Any) -> RenderedMessage:
    """Title and body of `message_key` in `locale` (English if unsupported).

    `date` values are formatted with `format_local_date`, `time` values as "HH:MM"; a `datetime` is
    refused because which wall-clock it means depends on the patient's zone, which the caller knows.
    Extra parameters are ignored, so callers can pass one superset for several keys.
    """
    resolved = resolve_locale(locale)
    entry = load_catalog(resolved)["messages"].get(message_key)
    if entry is None:
        raise UnknownMessageKey(f"no message {message_key!r} in the {resolved} catalog")
    values = _Params(message_key, resolved, {name: _format_value(value, resolved) for name, value in params.items()})
    return RenderedMessage(title=entry["title"].format_map(values), body=entry["body"].format_map(values))


def _format_value(value: Any, locale: str) -> Any:
    if isinstance(value, list) and all(isinstance(item, dict) and "rule" in item for item in value):
        return describe_findings(value, locale)
    if isinstance(value, dt.datetime):
        raise TypeError("pass a local date or time, not a datetime")
    if isinstance(value, dt.date):
        return format_local_date(value, locale)
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    return value


def describe_findings(findings: list[dict[str, Any]], locale: str) -> str:
    """Symptom alert findings in words, in `locale`: each rule from the catalog's `alert_rules`."""
    rules = load_catalog(resolve_locale(locale))["alert_rules"]
    parts = []
    for finding in findings:
        name = finding["rule"] if finding["rule"] != "worsening" else f"worsening_{finding.get('since') or 'previous'}"
        template = rules.get(name)
        if template is None:
            raise UnknownMessageKey(f"no words for the alert rule {finding['rule']!r}")
        parts.append(template.format(term=finding.get("term", ""), level=finding.get("level", "")))
    return rules["separator"].join(parts)


class _Params(dict):
    """format_map() mapping whose missing keys name the message, not just the placeholder."""

    def __init__(self, message_key: str, locale: str, values: dict[str, Any]) -> None:
        super().__init__(values)
        self.message_key = message_key
        self.locale = locale

    def __missing__(self, name: str) -> Any:
        raise MissingMessageParameter(f"message {self.message_key!r} ({self.locale}) needs parameter {name!r}")
