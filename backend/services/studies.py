"""Studies and sites: the protocol settings everything else reads."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from backend.auth import Principal, can_see_site, can_see_study, visible_study_ids
from backend.errors import Conflict, Forbidden, InvalidInput, NotFound
from backend.extensions import db
from backend.models import Site, Study
from backend.models.audit import REASON_KEY
from backend.services.study_settings import validate_study_settings


def create_study(principal: Principal | None, data: dict[str, Any]) -> Study:
    if principal is not None and not principal.is_admin:
        raise Forbidden("Only an admin may create a study.", reason="role_forbidden")
    if db.session.scalar(sa.select(Study.id).where(Study.code == data["code"])):
        raise Conflict(f"A study with code {data['code']!r} exists.", reason="duplicate_study")
    schedule = data.get("assessment_schedule") or {}
    study = Study(
        code=data["code"], title=data["title"],
        assessment_interval_days=schedule.get("interval_days", 42),
        assessment_window_days=schedule.get("window_days", 7),
        assessment_phases=[list(p) for p in schedule["phases"]] if schedule.get("phases") else None,
        pfs_missed_rule=data.get("pfs_missed_rule", "visits"),
        settings=data.get("settings") or {},
    )
    validate_study_settings(study)
    db.session.add(study)
    db.session.commit()
    return study


def amend_study(principal: Principal, code: str, data: dict[str, Any]) -> Study:
    """Change a study's protocol settings, checked like a new study's and audited with the reason.
    Calendars already planned are not rewritten: GET /studies/{code}/reconciliation lists the patients
    whose future visits differ from the amended protocol."""
    study = study_by_code(principal, code)
    try:
        db.session.info[REASON_KEY] = data["reason"]
        if "title" in data:
            study.title = data["title"]
        if "pfs_missed_rule" in data:
            study.pfs_missed_rule = data["pfs_missed_rule"]
        if "assessment_schedule" in data:
            schedule = data["assessment_schedule"]
            study.assessment_interval_days = schedule["interval_days"]
            study.assessment_window_days = schedule["window_days"]
            study.assessment_phases = [list(p) for p in schedule["phases"]] if schedule.get("phases") else None
        if "settings" in data:
            study.settings = data["settings"]
        validate_study_settings(study)
        db.session.commit()
        return study
    except Exception:
        db.session.rollback()
        raise


def study_by_code(principal: Principal | None, code: str) -> Study:
    study = db.session.scalar(sa.select(Study).where(Study.code == code))
    if study is None or (principal is not None and not can_see_study(principal, study.id)):
        raise NotFound(f"No study {code!r}.")
    return study


def site_by_code(principal: Principal, code: str) -> Site:
    """The site with this code, or 404 when it does not exist or is out of the caller's scope."""
    site = db.session.scalar(sa.select(Site).where(Site.code == code))
    if site is None or not can_see_site(principal, site):
        raise NotFound(f"No site {code!r}.")
    return site


def list_studies(principal: Principal) -> list[Study]:
    stmt = sa.select(Study).order_by(Study.code)
    ids = visible_study_ids(principal)
    if ids is not None:
        stmt = stmt.where(Study.id.in_(ids))
    return list(db.session.scalars(stmt))


def create_site(principal: Principal | None, data: dict[str, Any]) -> Site:
    study = db.session.scalar(sa.select(Study).where(Study.code == data["study"]))
    if study is None or (principal is not None and not can_see_study(principal, study.id)):
        raise InvalidInput("study", f"Unknown study {data['study']!r}.")
    if db.session.scalar(sa.select(Site.id).where(Site.code == data["code"])):
        raise Conflict(f"A site with code {data['code']!r} exists.", reason="duplicate_site")
    site = Site(code=data["code"], name=data["name"], study=study, timezone=data["timezone"],
                country=data["country"], subdivision=data.get("subdivision"), closures=[d.isoformat() for d in data.get("closures") or []],
                phone=data.get("phone"), hours=data.get("hours") or {}, out_of_hours=data.get("out_of_hours") or {})
    db.session.add(site)
    db.session.commit()
    return site
