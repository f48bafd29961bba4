from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import marshmallow as ma

from backend.schemas.care_team import LocalisedText, care_team_fields
from backend.schemas.fields import Date, UtcDateTime

from backend.models.studies import PFS_MISSED_RULES
from schedules.plausibility import MAX_HORIZON_DAYS, MAX_INTERVAL_DAYS, MAX_PHASES

MAX_SETTINGS_CHARS = 20_000  # the whole settings object as JSON; the seed studies' take under 2,000


def bounded_json(value: dict) -> None:
    """Settings are stored and read on every enrolment and report: bounded as a whole."""
    import json

    if len(json.dumps(value)) > MAX_SETTINGS_CHARS:
        raise ma.ValidationError(f"At most {MAX_SETTINGS_CHARS} characters as JSON.")


# IANA tz database areas of the form Area/Location (tz-link.html "Timezone identifiers"); the other
# names in the database (Factory, localtime, EST5EDT, GMT+0, Etc/..., US/..., backward links) are
# aliases, POSIX rules or placeholders that say nothing about where a clinic is.
ZONE_AREAS = frozenset({"Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe",
                        "Indian", "Pacific"})


def validate_timezone(value: str) -> None:
    """An IANA Area/Location zone name, or UTC; anything else would silently shift every reminder."""
    if value != "UTC" and (value.split("/", 1)[0] not in ZONE_AREAS or "/" not in value):
        raise ma.ValidationError(f"Give an IANA Area/Location time zone such as Asia/Shanghai, or UTC; not {value!r}.")
    if value not in _zones():
        raise ma.ValidationError(f"Unknown IANA time zone {value!r}.")
    try:
        ZoneInfo(value)
    except ZoneInfoNotFoundError:
        raise ma.ValidationError(f"Unknown IANA time zone {value!r}.") from None


_ZONES: set[str] = set()


def _zones() -> set[str]:
    if not _ZONES:
        _ZONES.update(available_timezones())
    return _ZONES


class AssessmentScheduleSchema(ma.Schema):
    interval_days = ma.fields.Integer(load_default=42, validate=ma.validate.Range(min=1, max=365))
    window_days = ma.fields.Integer(load_default=7, validate=ma.validate.Range(min=0, max=60))
    phases = ma.fields.List(
        ma.fields.Tuple((ma.fields.Integer(allow_none=True, validate=ma.validate.Range(min=1, max=MAX_HORIZON_DAYS)),
                          ma.fields.Integer(validate=ma.validate.Range(min=1, max=MAX_INTERVAL_DAYS)))),
        load_default=None, allow_none=True, validate=ma.validate.Length(max=MAX_PHASES),
        metadata={"description": "[[until_day or null, interval_days], ...], e.g. [[336, 42], [null, 84]]"},
    )


class StudyCreateSchema(ma.Schema):
    code = ma.fields.String(required=True, validate=[ma.validate.Length(min=2, max=40),
                                                      ma.validate.Regexp(r"^[A-Za-z0-9_.-]+$")])
    title = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=300))
    assessment_schedule = ma.fields.Nested(AssessmentScheduleSchema, load_default=lambda: {"interval_days": 42, "window_days": 7, "phases": None})
    pfs_missed_rule = ma.fields.String(load_default="visits", validate=ma.validate.OneOf(PFS_MISSED_RULES))
    settings = ma.fields.Dict(load_default=dict, validate=bounded_json, metadata={"description": "Study policies: surveys, dosing windows, reminders, alert rules, regimen overrides"})


class StudyUpdateSchema(ma.Schema):
    """A protocol amendment: the schedule, the PFS rule or the policies change, with the reason."""

    title = ma.fields.String(validate=ma.validate.Length(min=1, max=300))
    assessment_schedule = ma.fields.Nested(AssessmentScheduleSchema)
    pfs_missed_rule = ma.fields.String(validate=ma.validate.OneOf(PFS_MISSED_RULES))
    settings = ma.fields.Dict(validate=bounded_json, metadata={"description": "Replaces the study's settings as a whole"})
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=2000),
                              metadata={"description": "Why (audited), e.g. the amendment number"})


class StudySchema(ma.Schema):
    id = ma.fields.String(dump_only=True)
    code = ma.fields.String(dump_only=True)
    title = ma.fields.String(dump_only=True)
    assessment_schedule = ma.fields.Function(lambda s: {
        "interval_days": s.assessment_interval_days, "window_days": s.assessment_window_days,
        "phases": s.assessment_phases}, dump_only=True)
    pfs_missed_rule = ma.fields.String(dump_only=True)
    settings = ma.fields.Dict(dump_only=True)
    sites = ma.fields.Function(lambda s: [site.code for site in s.sites], dump_only=True)
    created_at = UtcDateTime(dump_only=True)


class SiteCreateSchema(ma.Schema.from_dict(care_team_fields(), name="SiteCareTeam")):
    code = ma.fields.String(required=True, validate=[ma.validate.Length(min=1, max=40),
                                                      ma.validate.Regexp(r"^[A-Za-z0-9_.-]+$")])
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    study = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40), metadata={"description": "Study code"})
    timezone = ma.fields.String(required=True, validate=[ma.validate.Length(min=1, max=64), validate_timezone])
    country = ma.fields.String(required=True, validate=ma.validate.Length(min=2, max=2), metadata={"description": "ISO 3166-1 alpha-2"})
    subdivision = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(min=1, max=10),
                                   metadata={"description": "ISO 3166-2 subdivision for regional public holidays, "
                                                            "e.g. ENG, SCT; GB sites default to ENG"})
    closures = ma.fields.List(Date(), load_default=list, validate=ma.validate.Length(max=400), metadata={"description": "Extra closed days"})

    @ma.validates("country")
    def _country(self, value: str, **kwargs) -> None:
        import holidays

        if len(value) != 2 or not value.isupper() or value not in holidays.list_supported_countries():
            raise ma.ValidationError("Must be an upper-case ISO 3166-1 alpha-2 code with a public-holiday calendar.")

    @ma.validates_schema
    def _subdivision(self, data, **kwargs) -> None:
        import holidays

        country, subdivision = data.get("country"), data.get("subdivision")
        if subdivision is None or country is None:
            return
        supported = holidays.list_supported_countries().get(country) or []
        if subdivision not in supported:
            raise ma.ValidationError(f"{country} has no public-holiday subdivision {subdivision!r}.", "subdivision")


class SiteSchema(ma.Schema):
    id = ma.fields.String(dump_only=True)
    code = ma.fields.String(dump_only=True)
    name = ma.fields.String(dump_only=True)
    study = ma.fields.Function(lambda site: site.study.code, dump_only=True)
    timezone = ma.fields.String(dump_only=True)
    country = ma.fields.String(dump_only=True)
    subdivision = ma.fields.String(dump_only=True, allow_none=True)
    closures = ma.fields.List(ma.fields.String(), dump_only=True)
    phone = ma.fields.String(dump_only=True, allow_none=True)
    hours = LocalisedText(dump_only=True, metadata={"description": "Per language: {\"en\": ..., \"zh-CN\": ...}"})
    out_of_hours = LocalisedText(dump_only=True, metadata={"description": "Per language"})
