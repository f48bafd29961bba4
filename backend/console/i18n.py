"""Languages of the console (English, Simplified Chinese) and how dates and instants are shown.

Catalogs are kept as `.po` files in `backend/translations/` and compiled to `.mo` when the app
starts (only when a `.po` is newer), into the same folder or, when that is read-only, a temporary
one. The language is the one chosen on the page (kept in the session), else the browser's
Accept-Language. Clinical dates are plain dates; instants are shown in the site's zone.
"""
from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_skeleton
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, request, session
from flask_babel import Babel, get_locale, gettext, ngettext

from backend.services.phrases import N_

log = logging.getLogger(__name__)

CATALOGS = Path(__file__).resolve().parent.parent / "translations"
LANGUAGES = {"en": "English", "zh_Hans_CN": "简体中文"}
babel = Babel()


def select_locale() -> str:
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    best = request.accept_languages.best_match(["en", "zh-CN", "zh", "zh-Hans"], default="en")
    return "zh_Hans_CN" if best.startswith("zh") else "en"


def compile_catalogs(source: Path = CATALOGS) -> Path:
    """Compile every `<locale>/LC_MESSAGES/messages.po` whose `.mo` is missing or older; the folder to
    load them from (the source folder, or a temporary one when the source folder is read-only)."""
    try:
        return compile_catalogs_to(source, source)
    except OSError:
        log.info("translations folder is read-only; compiling the catalogs to a temporary folder")
        return compile_catalogs_to(Path(tempfile.mkdtemp(prefix="cadence-i18n-")), source)


def compile_catalogs_to(target: Path, source: Path) -> Path:
    for po_path in sorted(source.glob("*/LC_MESSAGES/messages.po")):
        mo_path = target / po_path.relative_to(source).with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        mo_path.parent.mkdir(parents=True, exist_ok=True)
        with po_path.open("rb") as handle:
            catalog = read_po(handle)
        partial = mo_path.with_suffix(f".{os.getpid()}.tmp")
        with partial.open("wb") as out:
            write_mo(out, catalog)
        os.replace(partial, mo_path)  # atomic: another process starting now never reads half a file
    return target


def show_date(value: date | None) -> str:
    """A clinical date in the reader's language (no zone: a clinical date is a calendar day)."""
    if value is None:
        return "—"
    return format_date(value, format="medium", locale=str(get_locale() or "en"))


def short_date(value: date) -> str:
    """Day and month only (chart ticks)."""
    return format_skeleton("MMMd", value, locale=str(get_locale() or "en"))


# The four labels `schedules.calendar_planning` gives events, in English as the API answers them, and the
# message each is shown with (tests/console/test_i18n.py holds every planned label to a pattern).
_VISIT_LABELS = (
    (re.compile(r"Cycle (?P<cycle>\d+) Day (?P<day>\d+)"), N_("Cycle %(cycle)s Day %(day)s")),
    (re.compile(r"Cycle (?P<cycle>\d+) Day (?P<day>\d+) dosing diary"),
     N_("Cycle %(cycle)s Day %(day)s dosing diary")),
    (re.compile(r"Tumour assessment (?P<num>\d+)"), N_("Tumour assessment %(num)s")),
    (re.compile(r"Symptom survey (?P<num>\d+)"), N_("Symptom survey %(num)s")),
)


def show_visit(label: str | None) -> str:
    """An event's label in the reader's language; a label of another shape as it is."""
    for pattern, message in _VISIT_LABELS:
        match = pattern.fullmatch(label or "")
        if match:
            return gettext(message, **match.groupdict())
    return label or ""


def _named(messages: Mapping[str, str], slug: str | None) -> str:
    """A slug of one of the vocabularies below by its name in the reader's language; a slug the
    vocabulary lacks as its words."""
    message = messages.get(slug or "")
    return gettext(message) if message else (slug or "").replace("_", " ")


# The symptom-alert rules of `schedules.symptom_alerts.RULES`.
_ALERT_RULES = {"composite_grade": N_("composite grade"), "severe_symptom": N_("severe symptom"),
                "worsening": N_("worsening")}


def show_alert_rule(rule: str | None) -> str:
    """Which rule raised a symptom alert, in the reader's language: its slug (`composite_grade`), or its
    words as the worklist's English writes them (`composite grade`)."""
    return _named(_ALERT_RULES, (rule or "").replace(" ", "_"))


# The statuses of `backend.models.patients.PATIENT_STATUSES`.
_PATIENT_STATUSES = {"on_treatment": N_("on treatment"), "follow_up": N_("in follow-up"),
                     "off_study": N_("off study")}


def show_patient_status(status: str | None) -> str:
    """A patient's status in the reader's language."""
    return _named(_PATIENT_STATUSES, status)


# The reconciliation's finding kinds (`backend.services.reconciliation`).
_FINDING_KINDS = {"recorded_outside_window": N_("recorded outside its window"),
                  "not_recorded": N_("not recorded"),
                  "rescheduled_outside_window": N_("rescheduled outside its window"),
                  "duplicate_same_day": N_("recorded twice on one day"),
                  "assessment_after_progression": N_("assessment after progression"),
                  "baseline_too_early": N_("baseline too early"),
                  "calendar_drift": N_("calendar differs from the protocol")}


def show_finding_kind(kind: str | None) -> str:
    """What a reconciliation finding is, in the reader's language."""
    return _named(_FINDING_KINDS, kind)


def show_instant(value: datetime | None, zone: str | None) -> str:
    """An instant (stored in UTC) in the site's zone, with the zone's abbreviation."""
    if value is None:
        return "—"
    local = value.astimezone(ZoneInfo(zone or "UTC"))
    return format_datetime(local, format="medium", locale=str(get_locale() or "en")) + " " + local.strftime("%Z")


def show_change(value) -> str:
    """One audited field's change: `before → after` (or just the value), shortened."""
    if isinstance(value, dict) and set(value) <= {"before", "after"}:
        before, after = value.get("before"), value.get("after")
        text = str(after) if before is None else f"{before} → {after}"
    else:
        text = str(value)
    return text if len(text) <= 60 else text[:57] + "…"


# The values of a phrase that the services write as stored (English) and the console shows by name.
_SHOWN_BY_NAME: dict[str, Callable[[Any], str]] = {
    "label": show_visit, "rule": show_alert_rule,
    "labels": lambda labels: ", ".join(show_visit(label) for label in labels.split(", ")),
}


def _shown(name: str, value: Any) -> Any:
    if isinstance(value, date):
        return show_date(value)
    show = _SHOWN_BY_NAME.get(name)
    return show(value) if show is not None else value


def say(parts: Iterable[Any]) -> str:
    """A sentence (`backend.services.phrases` parts) in the reader's language, dates as the console shows
    them, visits and alert rules by their names."""
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
            continue
        values = {name: _shown(name, value) for name, value in part.params.items()}
        if isinstance(part.message, tuple):
            num = values.pop("num")
            out.append(ngettext(part.message[0], part.message[1], num, **values))
        else:
            out.append(gettext(part.message, **values) if values else gettext(part.message))
    return "".join(out)


def init_i18n(app: Flask) -> None:
    directory = compile_catalogs()
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(directory))
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.filters["show_date"] = show_date
    app.jinja_env.filters["show_instant"] = show_instant
    app.jinja_env.filters["show_visit"] = show_visit
    app.jinja_env.filters["show_alert_rule"] = show_alert_rule
    app.jinja_env.filters["show_patient_status"] = show_patient_status
    app.jinja_env.filters["show_finding_kind"] = show_finding_kind
    app.jinja_env.filters["say"] = say
    app.jinja_env.filters["show_change"] = show_change
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES
    app.jinja_env.globals["get_locale"] = get_locale
