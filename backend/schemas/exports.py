"""Query arguments of the CSV exports."""
import marshmallow as ma

from backend.schemas.fields import Date


class ExportQuerySchema(ma.Schema):
    as_of = Date(load_default=None, metadata={"description": "Data cut-off; default today at each site"})
