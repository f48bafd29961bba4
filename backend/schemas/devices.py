import marshmallow as ma

from backend.models.devices import PLATFORMS
from backend.schemas.fields import UtcDateTime


class DeviceRegisterSchema(ma.Schema):
    platform = ma.fields.String(required=True, validate=ma.validate.OneOf(PLATFORMS))
    token = ma.fields.String(required=True, load_only=True,
                             validate=[ma.validate.Length(min=8, max=512),
                                       ma.validate.Regexp(r"^[\x21-\x7e]+$", error="Not a push token.")],
                             metadata={"description": "FCM registration token or APNs device token"})


class DeviceSchema(ma.Schema):
    """The token itself is not echoed back."""

    id = ma.fields.String(dump_only=True)
    platform = ma.fields.String(dump_only=True)
    active = ma.fields.Boolean(attribute="is_active", dump_only=True)
    registered_at = UtcDateTime(dump_only=True)
    last_seen_at = UtcDateTime(dump_only=True)
