"""The care team as patients see it, and the site fields staff set it with.

Texts that patients read (opening hours, what to do out of hours) are stored per language:
`{"en": "Mon-Fri 08:00-17:00", "zh-CN": "周一至周五 08:00-17:00"}`. Staff may send a plain string,
which is taken as the English text (and shown to every patient until a translation is added).
"""
import marshmallow as ma

from backend.models.patients import LOCALES
from backend.schemas.fields import no_nul

PHONE_PATTERN = r"^\+?[0-9][0-9 ()./-]{2,30}$"
TEXT_MAX = 500


class LocalisedText(ma.fields.Field):
    """`"text"` or `{"en": "text", "zh-CN": "文本"}` in; `{"en": ..., ...}` out."""

    default_error_messages = {"invalid": "Send a string or an object keyed by language (en, zh-CN)."}

    def _serialize(self, value, attr, obj, **kwargs):
        return dict(value or {})

    def _deserialize(self, value, attr, data, **kwargs) -> dict[str, str]:
        texts = {"en": value} if isinstance(value, str) else value
        if not isinstance(texts, dict) or not texts:
            raise self.make_error("invalid")
        errors = {}
        for language, text in texts.items():
            if language not in LOCALES:
                errors[language] = [f"Unknown language; use one of {', '.join(LOCALES)}."]
            elif not isinstance(text, str) or not 1 <= len(text) <= TEXT_MAX:
                errors[language] = [f"A text of 1 to {TEXT_MAX} characters."]
            elif "\x00" in text:
                errors[language] = ["Must not contain NUL characters."]
        if errors:
            raise ma.ValidationError(errors)
        return dict(texts)


def care_team_fields() -> dict[str, ma.fields.Field]:
    """The care-team fields of a site's create and update bodies."""
    return {
        "phone": ma.fields.String(allow_none=True, validate=[ma.validate.Length(max=40), ma.validate.Regexp(PHONE_PATTERN), no_nul], metadata={
            "description": "The number patients call, e.g. +86 21 6417 5590", "example": "+86 21 6417 5590"}),
        "hours": LocalisedText(allow_none=True, metadata={
            "description": "When the team answers: a string (English) or {\"en\": ..., \"zh-CN\": ...}"}),
        "out_of_hours": LocalisedText(allow_none=True, metadata={
            "description": "What to do out of hours: a string (English) or {\"en\": ..., \"zh-CN\": ...}"}),
    }


SiteUpdateSchema = ma.Schema.from_dict({
    **care_team_fields(),
    "reason": ma.fields.String(validate=[ma.validate.Length(min=1, max=2000), no_nul], load_default=None),
}, name="SiteUpdateSchema")


class CareTeamSchema(ma.Schema):
    site = ma.fields.String(dump_only=True, metadata={"description": "The site's code"})
    name = ma.fields.String(dump_only=True)
    phone = ma.fields.String(dump_only=True, allow_none=True)
    hours = ma.fields.String(dump_only=True, allow_none=True, metadata={"description": "In the patient's language"})
    out_of_hours = ma.fields.String(dump_only=True, allow_none=True, metadata={
        "description": "In the patient's language"})
