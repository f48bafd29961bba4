"""Activation codes: staff issue a patient a one-time code; the app redeems it with a new password.

A code is 10 characters of Crockford's base32 (no I, L, O or U: nothing to misread when it is read
out over the phone), shown as `XXXXX-XXXXX` and in a QR code the app scans. 50 random bits, a week's
life (ACTIVATION_CODE_DAYS), one use, and sign-in's rate limits on redemption make guessing one
hopeless. Only an HMAC of the code (keyed with SECRET_KEY) is stored, so a copy of the database does
not hand out accounts; the code itself is shown once, to whoever issued it.

One code per patient: issuing another (a lost phone, a forgotten password) replaces the earlier one.
Redeeming creates the patient's account (or sets a new password on the one they have, and activates
it), retires the code, and answers exactly as a sign-in does.
"""
from __future__ import annotations

import hashlib
import hmac
import io
import logging
import re
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import segno
import sqlalchemy as sa
from flask import current_app

from backend.auth import Principal, hash_password, visible_patient
from backend.errors import InvalidInput, Unauthorized
from backend.extensions import db
from backend.models import ActivationCode, Patient, User
from backend.models.audit import REASON_KEY
from backend.models.base import utcnow
from backend.passwords import password_problem
from backend.services import auth as auth_service

log = logging.getLogger(__name__)

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32
CODE_LENGTH = 10
_MISREAD = str.maketrans({"O": "0", "I": "1", "L": "1"})
_CODE = re.compile(rf"^[{ALPHABET}]{{{CODE_LENGTH}}}$")


@dataclass(frozen=True)
class IssuedCode:
    patient_id: uuid.UUID
    code: str
    expires_at: datetime

    @property
    def qr_svg(self) -> str:
        return qr_svg(self.code)


def normalise(code: str) -> str:
    """What the patient typed, as issued: case, spaces, dashes and misread letters forgiven."""
    return re.sub(r"[\s\-]", "", code).upper().translate(_MISREAD)


def code_hash(code: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"activation:{normalise(code)}".encode(), hashlib.sha256).hexdigest()


def _new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


def qr_svg(code: str) -> str:
    """The code as a QR code, a standalone SVG document the app and the console can show."""
    buffer = io.BytesIO()
    segno.make_qr(normalise(code), error="m").save(buffer, kind="svg", scale=4, border=4, xmldecl=False,
                                                  title="Cadence activation code")
    return buffer.getvalue().decode()


def _issue(patient: Patient, issued_by: uuid.UUID | None, now: datetime) -> IssuedCode:
    """Write (or replace) the patient's code in the caller's transaction."""
    code = _new_code()
    expires_at = now + timedelta(days=int(current_app.config["ACTIVATION_CODE_DAYS"]))
    row = db.session.scalar(sa.select(ActivationCode).where(ActivationCode.patient_id == patient.id)
                            .with_for_update())
    if row is None:
        row = ActivationCode(patient_id=patient.id)
        db.session.add(row)
    row.code_hash = code_hash(code)
    row.issued_at = now
    row.issued_by = issued_by
    row.expires_at = expires_at
    row.used_at = None
    return IssuedCode(patient.id, code, expires_at)


def issue_code(principal: Principal, raw_patient_id: str) -> IssuedCode:
    """Staff in scope issue the patient a code; an earlier one stops working (404 out of scope)."""
    patient = visible_patient(principal, raw_patient_id)
    db.session.info[REASON_KEY] = "activation code issued"
    issued = _issue(patient, principal.user_id, utcnow())
    db.session.commit()
    return issued


def issue_codes_for_import(subjects: Iterable[tuple[str, str]], *, enrolled_before: set[uuid.UUID],
                           source: str) -> list[tuple[Patient, IssuedCode]]:
    """Codes for the patients of an import file (study code, subject id) that the import enrolled, i.e.
    were not enrolled before it; one transaction. Answers them in file order."""
    from backend.models import Study

    pairs = list(dict.fromkeys(subjects))
    if not pairs:
        return []
    found = {(p.study.code, p.subject_id): p for p in db.session.scalars(
        sa.select(Patient).join(Study, Study.id == Patient.study_id)
        .where(sa.tuple_(Study.code, Patient.subject_id).in_(pairs)))}
    now = utcnow()
    db.session.info[REASON_KEY] = f"activation code issued at import from {source}"
    issued = [(patient, _issue(patient, None, now)) for pair in pairs
              if (patient := found.get(pair)) is not None and patient.id not in enrolled_before]
    db.session.commit()
    return issued


def enrolled_ids(subjects: Iterable[tuple[str, str]]) -> set[uuid.UUID]:
    """Ids of the patients among (study code, subject id) pairs who are already enrolled."""
    from backend.models import Study

    pairs = list(dict.fromkeys(subjects))
    if not pairs:
        return set()
    return set(db.session.scalars(sa.select(Patient.id).join(Study, Study.id == Patient.study_id)
                                  .where(sa.tuple_(Study.code, Patient.subject_id).in_(pairs))))


def _username_for(patient: Patient) -> str:
    """`<study>-<subject>` in lower case (unique: subjects are unique within a study), with a suffix
    in the unlikely case a staff account already has that name."""
    base = re.sub(r"[^a-z0-9._-]+", "-", f"{patient.study.code}-{patient.subject_id}".lower())[:70]
    username = base
    while db.session.scalar(sa.select(User.id).where(User.username == username)) is not None:
        username = f"{base}-{secrets.token_hex(2)}"
    return username


def activate(code: str, password: str) -> dict[str, Any]:
    """Redeem a code: the patient's account gets this password (created, or re-activated) and the
    code is spent; the answer is a sign-in's. A wrong, spent or expired code is one 401."""
    now = utcnow()
    normal = normalise(code)
    row = None
    if _CODE.match(normal):
        row = db.session.scalar(sa.select(ActivationCode).where(
            ActivationCode.code_hash == code_hash(normal), ActivationCode.used_at.is_(None),
            ActivationCode.expires_at > now).with_for_update())
    if row is None:
        db.session.rollback()
        log.info("activation refused: unknown, spent or expired code")
        raise Unauthorized("The code is wrong, already used or expired; ask your care team for a new one.",
                           reason="invalid_activation_code")
    patient = db.session.get(Patient, row.patient_id)
    user = db.session.get(User, patient.user_id) if patient.user_id else None
    problem = password_problem(password, user.username if user else _username_for(patient))
    if problem:
        db.session.rollback()
        raise InvalidInput("password", problem, reason="weak_password")
    db.session.info[REASON_KEY] = "account activated with a one-time code"
    if user is None:
        user = User(username=_username_for(patient), password_hash=hash_password(password), role="patient",
                    is_active=True)
        user.id = uuid.uuid4()
        db.session.add(user)
        db.session.flush()
        patient.user_id = user.id
    else:
        user.password_hash = hash_password(password)
        user.is_active = True
    row.used_at = now
    tokens = auth_service.issue_tokens(user, "account_activated")  # exactly as a sign-in answers
    db.session.commit()
    return tokens
