import marshmallow as ma

from backend.schemas.fields import UtcDateTime

from backend.models.users import ROLES


class UserCreateSchema(ma.Schema):
    username = ma.fields.String(required=True, validate=[ma.validate.Length(min=3, max=80),
                                                          ma.validate.Regexp(r"^[A-Za-z0-9_.@-]+$")])
    password = ma.fields.String(required=True, load_only=True, validate=ma.validate.Length(min=12, max=1024),
                                metadata={"description": "At least 12 characters; not the username; not a common password"})
    role = ma.fields.String(required=True, validate=ma.validate.OneOf(ROLES))
    sites = ma.fields.List(ma.fields.String(validate=ma.validate.Length(min=1, max=40)), load_default=list, validate=ma.validate.Length(max=200), metadata={"description": "Site codes (nurses)"})
    studies = ma.fields.List(ma.fields.String(validate=ma.validate.Length(min=1, max=40)), load_default=list, validate=ma.validate.Length(max=200), metadata={"description": "Study codes (coordinators)"})
    email = ma.fields.Email(load_default=None, validate=ma.validate.Length(max=254),
                            metadata={"description": "Where staff messages go (none: the log channel)"})


class UserSchema(ma.Schema):
    id = ma.fields.String(dump_only=True)
    username = ma.fields.String(dump_only=True)
    role = ma.fields.String(dump_only=True)
    is_active = ma.fields.Boolean(dump_only=True)
    email = ma.fields.String(dump_only=True, allow_none=True)
    sites = ma.fields.Function(lambda user: sorted(site.code for site in user.sites), dump_only=True)
    studies = ma.fields.Function(lambda user: sorted(study.code for study in user.studies), dump_only=True)
    created_at = UtcDateTime(dump_only=True)
