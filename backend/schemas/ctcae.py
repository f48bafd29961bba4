"""CTCAE v5.0 terms on the wire."""
from __future__ import annotations

import marshmallow as ma


class TermQuerySchema(ma.Schema):
    q = ma.fields.String(load_default="", validate=ma.validate.Length(max=200), metadata={
        "description": "Words of the term or SOC, a MedDRA code (prefix), or a SOC name; empty lists A-Z"})
    limit = ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=200))


class CtcaeTermSchema(ma.Schema):
    term = ma.fields.String(dump_only=True)
    meddra_code = ma.fields.String(dump_only=True)
    soc = ma.fields.String(dump_only=True)
    grades = ma.fields.Function(lambda term: {str(grade): text for grade, text in sorted(term.grades.items())},
                                dump_only=True, metadata={
                                    "type": "object", "description": "Grade → NCI's description; only the grades "
                                    "the term defines", "example": {"1": "...", "2": "..."}})
    definition = ma.fields.String(dump_only=True, allow_none=True)
