"""Documenting the contract's error answers on every endpoint."""
from __future__ import annotations

from http import HTTPStatus

from backend.schemas.errors import ErrorSchema


def errors(blp, *codes: int):
    """Decorator: document each of `codes` as an error answer in the contract's shape."""

    def decorator(view):
        for code in codes:
            view = blp.alt_response(code, schema=ErrorSchema, description=HTTPStatus(code).phrase)(view)
        return view

    return decorator
