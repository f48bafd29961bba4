import marshmallow as ma

from backend.schemas.fields import UtcDateTime


class ActivationSchema(ma.Schema):
    """`POST /auth/activate`: the one-time code staff gave the patient, and the password they choose."""

    code = ma.fields.String(required=True, load_only=True,
                            validate=[ma.validate.Length(min=1, max=40),
                                      ma.validate.Regexp(r"^[0-9A-Za-z \-]+$", error="Not an activation code.")],
                            metadata={"description": "As issued (`XXXXX-XXXXX`); case, spaces and dashes do not matter"})
    password = ma.fields.String(required=True, load_only=True,
                                validate=[ma.validate.Length(min=10, max=1024),
                                          ma.validate.Regexp(r"^[^\x00]*$", error="NUL bytes are not allowed.")],
                                metadata={"description": "The patient's new password (at least 10 characters)"})


class ActivationCodeSchema(ma.Schema):
    """Shown once: only a hash of the code is kept."""

    code = ma.fields.String(dump_only=True, metadata={"description": "`XXXXX-XXXXX` (Crockford base32)"})
    expires_at = UtcDateTime(dump_only=True)
    qr_svg = ma.fields.String(dump_only=True, metadata={"description": "The code as a QR code (SVG) for the app to scan"})
