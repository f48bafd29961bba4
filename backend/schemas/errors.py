import marshmallow as ma


class ErrorSchema(ma.Schema):
    """The contract's single error shape."""

    code = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True)
    message = ma.fields.String(required=True)
    reason = ma.fields.String(required=True, metadata={"description": "Stable snake_case slug clients branch on"})
    errors = ma.fields.Dict(metadata={"description": "Validation errors by location and field (422 only)"})
