"""What the WSGI fast paths in front of Flask share (backend.api.calendar_fast_path, worklist_fast_path).

A fast path answers one GET route's cheapest case itself, after the same checks the Flask path makes,
and hands every other request to Flask untouched: a request with a query string or a body, a bad
`X-Request-ID`, no bearer token, a token that does not verify, or any failure of its own (logged
without details, then answered by Flask).
"""
from __future__ import annotations

import logging
import re
from typing import Any

import flask_compress.flask_compress as flask_compress
import sqlalchemy as sa
from flask import Flask

from backend.extensions import compress
from backend.guards import REQUEST_ID_PATTERN

Answer = tuple[str, list[tuple[str, str]], bytes]  # status, headers, body


class FastPath:
    """A WSGI layer for `PATH` (one captured path parameter); subclasses give `_answer`, which returns
    an `Answer`, or None to leave the request to Flask."""

    PATH: re.Pattern
    NAME: str

    def __init__(self, app: Flask, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") == "GET" and not environ.get("QUERY_STRING") \
                and environ.get("CONTENT_LENGTH") in (None, "", "0") and not environ.get("HTTP_TRANSFER_ENCODING"):
            match = self.PATH.fullmatch(environ.get("PATH_INFO", ""))
            if match is not None:
                try:
                    answer = self._answer(environ, match.group(1))
                except Exception:  # noqa: BLE001 - Flask's path answers (and logs) any failure its own way
                    logging.getLogger("cadence").warning("%s fast path failed; answered by Flask", self.NAME,
                                                         exc_info=False)
                    answer = None
                if answer is not None:
                    status, headers, body = answer
                    start_response(status, headers)
                    return [body]
        return self.wsgi_app(environ, start_response)

    def _answer(self, environ, parameter: str) -> Answer | None:
        raise NotImplementedError


def bearer_claims(environ) -> dict[str, Any] | None:
    """In an app context: the claims of the request's bearer token, verified as flask-jwt-extended
    verifies them (signature, `exp`, `nbf`, `iat`), or None when the request is Flask's to answer (no
    bearer token, an invalid `X-Request-ID`, a token that does not verify, headers configured otherwise)."""
    from flask_jwt_extended.config import config as jwt_config

    from backend.extensions import jwt

    authorization = environ.get("HTTP_AUTHORIZATION", "")
    request_id = environ.get("HTTP_X_REQUEST_ID")
    if not authorization.startswith("Bearer ") or (
            request_id is not None and not REQUEST_ID_PATTERN.fullmatch(request_id)):
        return None
    if jwt_config.header_name != "Authorization" or jwt_config.header_type != "Bearer":
        return None
    try:
        return jwt._decode_jwt_from_config(authorization[len("Bearer "):])
    except Exception:  # noqa: BLE001 - any refusal is the Flask path's to answer
        return None


def compression(app: Flask, accept_encoding: str | None, size: int) -> str | None:
    """The encoding flask-compress would choose for a JSON answer of `size` bytes (its own rules and
    settings), or None for none."""
    if not accept_encoding or size < app.config["COMPRESS_MIN_SIZE"] \
            or "application/json" not in app.config["COMPRESS_MIMETYPES"]:
        return None
    return flask_compress._choose_algorithm(compress.enabled_algorithms, accept_encoding)


def compressed(app: Flask, body: bytes, algorithm: str) -> bytes:
    return flask_compress._compress_data(app, body, algorithm)


def installable(app: Flask) -> bool:
    """A fast path is not installed when rate limits apply to every route (RATELIMIT_DEFAULT /
    RATELIMIT_APPLICATION): the limiter lives in Flask's hooks, and no request may pass it by. Nor off
    PostgreSQL (the laptop's SQLite): its one-statement sign-in read is PostgreSQL's."""
    if app.config.get("RATELIMIT_DEFAULT") or app.config.get("RATELIMIT_APPLICATION"):
        return False
    return sa.engine.make_url(app.config["SQLALCHEMY_DATABASE_URI"]).get_backend_name() == "postgresql"
