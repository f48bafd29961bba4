"""Wire formats shared by every schema.

Dates and instants are bounded to a span no clinical record can leave (1900-01-01..2199-12-31): date
arithmetic on year 1 or 9999 (a window, an offset to UTC, a cut-off's follow-up) runs off Python's
calendar, and such a date is a typing error, never a visit. Whether a date is plausible for a given
patient is a domain rule (schedules/plausibility.py), checked by the services.
"""
from __future__ import annotations

from datetime import date, datetime, timezone

import marshmallow as ma

EARLIEST = date(1900, 1, 1)
LATEST = date(2199, 12, 31)
_RANGE = f"Dates run from {EARLIEST.isoformat()} to {LATEST.isoformat()}."


class Date(ma.fields.Date):
    """A clinical date, `YYYY-MM-DD`, within EARLIEST..LATEST."""

    def _deserialize(self, value, attr, data, **kwargs) -> date:
        result = super()._deserialize(value, attr, data, **kwargs)
        if not EARLIEST <= result <= LATEST:
            raise ma.ValidationError(_RANGE)
        return result


class UtcDateTime(ma.fields.AwareDateTime):
    """RFC 3339 instant; accepted with any offset, always answered in UTC with `Z`."""

    def __init__(self, **kwargs):
        super().__init__(format="iso", **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")

    def _deserialize(self, value, attr, data, **kwargs) -> datetime:
        parsed = super()._deserialize(value, attr, data, **kwargs)
        if not EARLIEST <= parsed.date() <= LATEST:  # also keeps the conversion to UTC on the calendar
            raise ma.ValidationError(_RANGE)
        return parsed.astimezone(timezone.utc)


def no_nul(value: str) -> None:
    """Refuse NUL characters (PostgreSQL text cannot hold them; no legitimate input has one)."""
    if "\x00" in value:
        raise ma.ValidationError("Must not contain NUL characters.")

