"""Query arguments of the CSV exports."""
import marshmallow as ma


class ExportQuerySchema(ma.Schema):
    as_of = ma.fields.Date(load_default=None, metadata={"description": "Data cut-off; default today at each site"})
