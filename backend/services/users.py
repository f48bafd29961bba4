"""Accounts: staff are made by admins (coordinators for their studies); patients at enrolment."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from backend.auth import Principal, hash_password
from backend.errors import Conflict, Forbidden, InvalidInput
from backend.extensions import db
from backend.models import Site, Study, User


def create_user(principal: Principal | None, data: dict[str, Any], *, commit: bool = True) -> User:
    """Create a user. `principal` None means the command line (first admin)."""
    role = data["role"]
    if principal is not None and not principal.is_admin:
        if role in ("admin", "coordinator"):
            raise Forbidden("Only an admin may create admins and coordinators.", reason="role_forbidden")
    if db.session.scalar(sa.select(User.id).where(User.username == data["username"])):
        raise Conflict(f"The username {data['username']!r} is taken.", reason="duplicate_username")
    sites = _lookup(Site, data.get("sites") or [], "sites")
    studies = _lookup(Study, data.get("studies") or [], "studies")
    if principal is not None and not principal.is_admin:
        if any(s.study_id not in principal.study_ids for s in sites) or any(s.id not in principal.study_ids for s in studies):
            raise InvalidInput("sites", "You may only assign sites and studies of your own studies.")
    user = User(username=data["username"], password_hash=hash_password(data["password"]), role=role,
                sites=sites, studies=studies, email=data.get("email"))
    db.session.add(user)
    if commit:
        db.session.commit()
    return user


def _lookup(model, codes: list[str], field: str) -> list:
    if not codes:
        return []
    found = {row.code: row for row in db.session.scalars(sa.select(model).where(model.code.in_(codes)))}
    missing = [code for code in codes if code not in found]
    if missing:
        raise InvalidInput(field, f"Unknown code(s): {', '.join(missing)}.")
    return [found[code] for code in dict.fromkeys(codes)]
