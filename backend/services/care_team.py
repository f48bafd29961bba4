"""The care team: who a patient calls, when, and what to do out of hours.

Sites carry it (`phone`, and `hours` / `out_of_hours` as texts per language); a patient reads it in
their language (`GET /me/care-team`), and the message that asks them to contact the care team after a
symptom alert gives the same number and hours (:func:`contact_message`): one derivation, two views.
A text missing in the patient's language falls back to English, then to any language the site has.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from backend.auth import Principal, can_see_site
from backend.errors import NotFound
from backend.extensions import db
from backend.models import Patient, Site
from backend.models.audit import REASON_KEY
from notifications.messages import render, resolve_locale

CARE_TEAM_FIELDS = ("phone", "hours", "out_of_hours")


def localised(texts: dict[str, str] | None, locale: str | None) -> str | None:
    """The text in `locale`, else English, else the first language the site wrote it in."""
    if not texts:
        return None
    wanted = resolve_locale(locale)
    return texts.get(wanted) or texts.get("en") or next(iter(texts.values()))


def care_team_of(site: Site, locale: str | None) -> dict[str, Any]:
    return {"site": site.code, "name": site.name, "phone": site.phone,
            "hours": localised(site.hours, locale), "out_of_hours": localised(site.out_of_hours, locale)}


def my_care_team(principal: Principal) -> dict[str, Any]:
    """The signed-in patient's site's care team, in the patient's language."""
    patient = db.session.get(Patient, principal.patient_id) if principal.patient_id else None
    if patient is None:
        raise NotFound("No patient record for this account.")
    return care_team_of(patient.site, patient.locale)


def contact_message(patient: Patient) -> str:
    """What a patient reads when their report raised an alert: call the care team, with the site's
    number and hours when it has them (en, zh-CN)."""
    team = care_team_of(patient.site, patient.locale)
    if team["phone"]:
        return render("alert.symptom.patient_contact_team.phone", patient.locale, phone=team["phone"],
                      hours=team["hours"] or "-", out_of_hours=team["out_of_hours"] or "-").body
    return render("alert.symptom.patient_contact_team", patient.locale).body


def update_site(principal: Principal, code: str, data: dict[str, Any]) -> Site:
    """Change a site's care-team details (PATCH /sites/{code}); audited with the reason. Commits.
    A language's text replaces that language's only; null clears the field."""
    site = db.session.scalar(sa.select(Site).where(Site.code == code))
    if site is None or not can_see_site(principal, site):
        raise NotFound(f"No site {code!r}.")
    try:
        db.session.info[REASON_KEY] = data.get("reason")
        if "phone" in data:
            site.phone = data["phone"]
        for name in ("hours", "out_of_hours"):
            if name in data:
                setattr(site, name, {} if data[name] is None else {**(getattr(site, name) or {}), **data[name]})
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return site
