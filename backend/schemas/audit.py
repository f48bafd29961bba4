import marshmallow as ma

from backend.schemas.fields import UtcDateTime


class AuditQuerySchema(ma.Schema):
    entity = ma.fields.String(load_default=None, validate=ma.validate.Length(min=1, max=40), metadata={"description": "Table name, e.g. patients, events"})
    id = ma.fields.String(load_default=None, data_key="id", validate=ma.validate.Length(min=1, max=64), metadata={"description": "Entity id"})


class AuditRecordSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    at = UtcDateTime(dump_only=True)
    user_id = ma.fields.String(dump_only=True, allow_none=True)
    role = ma.fields.String(dump_only=True)
    action = ma.fields.String(dump_only=True)
    entity = ma.fields.String(dump_only=True)
    entity_id = ma.fields.String(dump_only=True)
    changes = ma.fields.Dict(dump_only=True)
    reason = ma.fields.String(dump_only=True, allow_none=True)
    request_id = ma.fields.String(dump_only=True, allow_none=True)
