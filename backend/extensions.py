"""Extensions, created unbound and bound to the app in app.py (no import-time side effects)."""
from __future__ import annotations

import flask_smorest
from flask_compress import Compress
from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from backend.models.base import Base
from backend.schemas.errors import ErrorSchema


class Api(flask_smorest.Api):
    """flask-smorest Api whose HTTP errors use the contract's single error shape."""

    ERROR_SCHEMA = ErrorSchema

    def _register_pagination_header(self):
        """`X-Pagination` is a header: its value is a JSON *string* (flask-smorest declares the decoded
        object, which no client or validator can match against a header's text)."""
        self.spec.components.header("PAGINATION", {
            "description": 'Pagination metadata as JSON: {"total", "total_pages", "page", "page_size", '
                           '"first_page", "last_page", "previous_page"?, "next_page"?}',
            "schema": {"type": "string", "example": '{"total": 120, "total_pages": 3, "page": 1, "page_size": 50, '
                                                    '"first_page": 1, "last_page": 3, "next_page": 2}'},
        })

    def handle_http_exception(self, error):  # noqa: D401 - flask-smorest hook
        from backend.errors import http_error_payload

        return http_error_payload(error)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
jwt = JWTManager()
api = Api()
compress = Compress()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
