"""The one password rule, for every role and everywhere a password is set (the users API, patient
accounts at enrolment or import, activation, the command line).

At least 12 characters (NIST SP 800-63B §5.1.1.2 asks for 8 at least and a check against passwords
known to be common; 12 for health data), at most 1,024; not the username (nor containing it); not in
the list of common passwords shipped in backend/data/common_passwords.txt (compared lower-case).
"""
from __future__ import annotations

import functools
from pathlib import Path

MIN_LENGTH = 12
MAX_LENGTH = 1024
COMMON_PASSWORDS_FILE = Path(__file__).resolve().parent / "data" / "common_passwords.txt"


@functools.cache
def common_passwords() -> frozenset[str]:
    with COMMON_PASSWORDS_FILE.open(encoding="utf-8") as lines:
        return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def password_problem(password: str, username: str | None = None) -> str | None:
    """Why this password is refused, or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"The password must be at least {MIN_LENGTH} characters long."
    if len(password) > MAX_LENGTH:
        return f"The password must be at most {MAX_LENGTH} characters long."
    folded = password.strip().lower()
    name = (username or "").strip().lower()
    if name and (folded == name or (len(name) >= 4 and name in folded)):
        return "The password must not be or contain the username."
    if folded in common_passwords():
        return "This password is too common; choose another."
    return None
