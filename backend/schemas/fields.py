"""Wire formats shared by every schema."""
from __future__ import annotations

from datetime import datetime, timezone

import marshmallow as ma


class UtcDateTime(ma.fields.AwareDateTime):
    """RFC 3339 instant; accepted with any offset, always answered in UTC with `Z`."""

    def __init__(self, **kwargs):
        super().__init__(format="iso", **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")

    def _deserialize(self, value, attr, data, **kwargs) -> datetime:
        return super()._deserialize(value, attr, data, **kwargs).astimezone(timezone.utc)


def no_nul(value: str) -> None:
    """Refuse NUL characters (PostgreSQL text cannot hold them; no legitimate input has one)."""
    if "\x00" in value:
        raise ma.ValidationError("Must not contain NUL characters.")

