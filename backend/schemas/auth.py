import marshmallow as ma


class LoginSchema(ma.Schema):
    username = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=80))
    password = ma.fields.String(required=True, load_only=True, validate=ma.validate.Length(min=1, max=1024))


class SignedInUserSchema(ma.Schema):
    id = ma.fields.String(dump_only=True)
    username = ma.fields.String(dump_only=True)
    role = ma.fields.String(dump_only=True)


class TokenPairSchema(ma.Schema):
    access_token = ma.fields.String(dump_only=True)
    refresh_token = ma.fields.String(dump_only=True)
    token_type = ma.fields.String(dump_only=True)
    expires_in = ma.fields.Integer(dump_only=True, metadata={"description": "Seconds until the access token expires"})
    user = ma.fields.Nested(SignedInUserSchema, dump_only=True)


class RefreshedTokenSchema(ma.Schema):
    access_token = ma.fields.String(dump_only=True)
    expires_in = ma.fields.Integer(dump_only=True)
    refresh_token = ma.fields.String(dump_only=True, metadata={
        "description": "The sign-in's new refresh token; the one presented is retired (reusing it ends the sign-in)"})


class MeSchema(SignedInUserSchema):
    patient_id = ma.fields.String(dump_only=True, allow_none=True)
    sites = ma.fields.List(ma.fields.String(), dump_only=True)
    studies = ma.fields.List(ma.fields.String(), dump_only=True)
