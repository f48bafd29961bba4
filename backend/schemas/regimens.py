import marshmallow as ma


class RegimenAgentSchema(ma.Schema):
    name = ma.fields.String(dump_only=True, metadata={"description": "Lower-case generic name"})
    dose = ma.fields.Raw(dump_only=True, metadata={"description": "Maintenance dose (number)"})
    unit = ma.fields.String(dump_only=True, metadata={"description": "mg/kg, mg/m2 or mg"})
    route = ma.fields.String(dump_only=True, metadata={"description": "IV or oral"})
    days = ma.fields.Raw(dump_only=True, metadata={"description": "Days of the cycle, or \"continuous\" (daily oral)"})
    loading_dose = ma.fields.Raw(dump_only=True, allow_none=True, metadata={"description": "Cycle 1 dose"})
    reload_after_days = ma.fields.Integer(dump_only=True, allow_none=True)
    reload_dose = ma.fields.Raw(dump_only=True, allow_none=True)


class RegimenSchema(ma.Schema):
    code = ma.fields.String(dump_only=True)
    name = ma.fields.String(dump_only=True)
    cycle_length_days = ma.fields.Integer(dump_only=True)
    max_cycles = ma.fields.Integer(dump_only=True, allow_none=True)
    agents = ma.fields.List(ma.fields.Nested(RegimenAgentSchema), dump_only=True)
