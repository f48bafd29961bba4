"""Accounts: staff are made by admins (coordinators for their studies); patients at enrolment."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from backend.auth import Principal, hash_password
from backend.errors import Conflict, Forbidden, InvalidInput
from backend.extensions import db
from backend.models import Site, Study, User
from backend.passwords import password_problem

# Names only an admin (or the command line) may give an account: to anyone else they are "not
# available" whether or not such an account exists, so a nurse cannot learn that `admin` exists.
RESERVED_USERNAMES = frozenset({"admin", "administrator", "root", "system", "superuser", "support", "security",
                                "cadence", "postmaster", "webmaster", "hostmaster", "operator"})


def check_password(password: str, username: str | None, field: str = "password") -> None:
    """The one password rule (backend/passwords.py), as a 422 naming the field."""
    problem = password_problem(password, username)
    if problem:
        raise InvalidInput(field, problem, reason="weak_password")


def check_username_available(principal: Principal | None, username: str) -> None:
    """Usernames are case-insensitive; taken and reserved names get the same answer."""
    reserved = principal is not None and not principal.is_admin and username.strip().lower() in RESERVED_USERNAMES
    taken = db.session.scalar(sa.select(User.id).where(sa.func.lower(User.username) == username.strip().lower()))
    if reserved or taken:
        raise Conflict("The username is not available; choose another.", reason="duplicate_username")


def create_user(principal: Principal | None, data: dict[str, Any], *, commit: bool = True,
                password_field: str = "password") -> User:
    """Create a user. `principal` None means the command line (first admin)."""
    role = data["role"]
    if principal is not None and not principal.is_admin:
        if role in ("admin", "coordinator"):
            raise Forbidden("Only an admin may create admins and coordinators.", reason="role_forbidden")
    check_username_available(principal, data["username"])
    check_password(data["password"], data["username"], password_field)
    sites = _lookup(principal, Site, data.get("sites") or [], "sites")
    studies = _lookup(principal, Study, data.get("studies") or [], "studies")
    user = User(username=data["username"], password_hash=hash_password(data["password"]), role=role,
                sites=sites, studies=studies, email=data.get("email"))
    db.session.add(user)
    if commit:
        db.session.commit()
    return user


def _in_scope(principal: Principal | None, row: Site | Study) -> bool:
    if principal is None or principal.is_admin:
        return True
    study_id = row.study_id if isinstance(row, Site) else row.id
    return study_id in principal.study_ids


def _lookup(principal: Principal | None, model, codes: list[str], field: str) -> list:
    """Rows by code; a code outside the caller's studies is answered exactly like one that does not
    exist (a coordinator cannot learn which other sites and studies there are)."""
    if not codes:
        return []
    found = {row.code: row for row in db.session.scalars(sa.select(model).where(model.code.in_(codes)))
             if _in_scope(principal, row)}
    missing = [code for code in codes if code not in found]
    if missing:
        raise InvalidInput(field, f"Unknown code(s): {', '.join(missing)}.")
    return [found[code] for code in dict.fromkeys(codes)]
