"""Documenting the contract's error answers on every endpoint."""
from __future__ import annotations

from http import HTTPStatus

import flask
import swagger_ui_bundle

from backend.schemas.errors import ErrorSchema

# Swagger UI's static files, served locally so the interactive docs need no CDN.
docs_assets = flask.Blueprint("docs_assets", __name__, static_folder=swagger_ui_bundle.swagger_ui_path,
                              static_url_path="")


def errors(blp, *codes: int):
    """Decorator: document each of `codes` as an error answer in the contract's shape."""

    def decorator(view):
        for code in codes:
            view = blp.alt_response(code, schema=ErrorSchema, description=HTTPStatus(code).phrase)(view)
        return view

    return decorator
