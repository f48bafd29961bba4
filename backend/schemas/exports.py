"""Query arguments of the CSV exports."""
import marshmallow as ma

from backend.schemas.fields import Date


class ExportQuerySchema(ma.Schema):
    """`cutoff` (or its older name `as_of`): the one data cut-off of the export; default today (UTC)."""

    cutoff = Date(load_default=None, metadata={
        "description": "Data cut-off date, written in DATACUTDT on every row; default today"})
    as_of = Date(load_default=None, metadata={"description": "Older name of cutoff"})

    @ma.validates_schema
    def _one_cutoff(self, data, **kwargs):
        if data.get("cutoff") and data.get("as_of") and data["cutoff"] != data["as_of"]:
            raise ma.ValidationError("Give one data cut-off: cutoff, or its older name as_of.", "cutoff")

    @ma.post_load
    def _merge(self, data, **kwargs):
        return {"cutoff": data.get("cutoff") or data.get("as_of")}
