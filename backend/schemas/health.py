import marshmallow as ma


class HealthSchema(ma.Schema):
    database = ma.fields.String(dump_only=True, metadata={"description": "ok | down"})
    redis = ma.fields.String(dump_only=True, metadata={"description": "ok | down"})
