"""The calendar's fast path: a 304, or a calendar text already made, answered in front of Flask.

A phone asks for its calendar far more often than the calendar changes, and most answers are a 304
or a text `CalendarBodies` already holds. For those, Flask's request machinery (context, hooks, the
limiter's bookkeeping, flask-smorest's and flask-jwt-extended's wrappers) cost twice the answer
itself. This WSGI middleware answers them directly — and only them:

- `GET /api/v1/patients/<uuid>/calendar`, no query string, no body, an `Authorization: Bearer`
  token, an `X-Request-ID` that is absent or valid (backend.guards); a 200 is compressed as flask-compress
  would (its choice of encoding and its settings), once per text;
- the token verifies (backend.extensions.JWT: signature, `exp`, `nbf`, `iat`) and is a well-formed
  access token; its sign-in is live, its account active, its role may read calendars, and the
  patient is in scope — decided by the same statement and the same functions as the Flask path
  (backend.auth.signed_in with calendar_reads.SIGNED_IN_HEAD, calendar_reads.visible_head), on every
  request;
- the ETag (calendar_reads.answer_from_head) matches `If-None-Match`, or its text is cached.

Anything else falls through to Flask, untouched, which answers it exactly as before (401, 403, 404,
422, the calendar made anew). The headers are the Flask path's; a test compares them, so a header
added to the API later fails that test until it is added here too. There is no rate limit on this
route (the layer is not installed when limits apply to every route) and nothing is audited on a read,
so nothing of either is skipped.
"""
from __future__ import annotations

import logging
import re
import uuid

import flask_compress.flask_compress as flask_compress
import sqlalchemy as sa
from flask import Flask
from werkzeug.http import http_date

from backend.api.calendars import CALENDAR_READERS
from backend.auth import signed_in
from backend.errors import NotFound
from backend.extensions import compress
from backend.guards import REQUEST_ID_PATTERN
from backend.services import calendar_reads

PATH = re.compile(r"/api/v1/patients/([0-9a-fA-F-]{36})/calendar")


class CalendarFastPath:
    def __init__(self, app: Flask, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") == "GET" and not environ.get("QUERY_STRING") \
                and environ.get("CONTENT_LENGTH") in (None, "", "0") and not environ.get("HTTP_TRANSFER_ENCODING"):
            match = PATH.fullmatch(environ.get("PATH_INFO", ""))
            if match is not None:
                try:
                    answer = self._answer(environ, match.group(1))
                except Exception:  # noqa: BLE001 - Flask's path answers (and logs) any failure its own way
                    logging.getLogger("cadence").warning("calendar fast path failed; answered by Flask",
                                                         exc_info=False)
                    answer = None
                if answer is not None:
                    status, headers, body = answer
                    start_response(status, headers)
                    return [body]
        return self.wsgi_app(environ, start_response)

    def _answer(self, environ, raw_id: str):
        authorization = environ.get("HTTP_AUTHORIZATION", "")
        request_id = environ.get("HTTP_X_REQUEST_ID")
        if not authorization.startswith("Bearer ") or (
                request_id is not None and not REQUEST_ID_PATTERN.fullmatch(request_id)):
            return None
        try:
            patient_id = uuid.UUID(raw_id)
        except ValueError:
            return None
        with self.app.app_context():
            from backend.extensions import jwt
            from flask_jwt_extended.config import config as jwt_config

            if jwt_config.header_name != "Authorization" or jwt_config.header_type != "Bearer":
                return None
            try:
                claims = jwt._decode_jwt_from_config(authorization[len("Bearer "):])
            except Exception:  # noqa: BLE001 - any refusal is the Flask path's to answer
                return None
            found = signed_in(claims, CALENDAR_READERS, calendar_reads.SIGNED_IN_HEAD, {"patient_id": patient_id},
                              environ)
            if found is None:
                return None
            principal, row = found
            try:
                head = calendar_reads.visible_head(principal, row)
            except NotFound:
                return None
            audience = "patient" if principal.role == "patient" else "staff"
            etag, text, current = calendar_reads.answer_from_head(head, audience, {},
                                                                  environ.get("HTTP_IF_NONE_MATCH"))
            tail = [("ETag", etag), ("Cache-Control", "private, no-cache"),
                    ("X-Request-ID", request_id or uuid.uuid4().hex), ("Vary", "Accept-Encoding")]
            if current:
                return "304 NOT MODIFIED", tail, b""
            if text is None:
                return None
            algorithm = _compression(self.app, environ.get("HTTP_ACCEPT_ENCODING"), len(text))
            if algorithm is not None:
                plain = text
                text = calendar_reads.CalendarBodies.variant(
                    etag, algorithm, lambda: flask_compress._compress_data(self.app, plain, algorithm))
                tail += [("Content-Encoding", algorithm), ("Date", http_date())]  # as flask-compress's make_conditional
        return "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(text))), *tail], text


def _compression(app: Flask, accept_encoding: str | None, size: int) -> str | None:
    """The encoding flask-compress would choose for this JSON answer (its own rules and settings),
    or None for none; the compressed text is then kept beside the plain one."""
    if not accept_encoding or size < app.config["COMPRESS_MIN_SIZE"] \
            or "application/json" not in app.config["COMPRESS_MIMETYPES"]:
        return None
    return flask_compress._choose_algorithm(compress.enabled_algorithms, accept_encoding)


def installable(app: Flask) -> bool:
    """A fast path is not installed when rate limits apply to every route (RATELIMIT_DEFAULT /
    RATELIMIT_APPLICATION): the limiter lives in Flask's hooks, and no request may pass it by. Nor off
    PostgreSQL (the laptop's SQLite): its one-statement sign-in read is PostgreSQL's."""
    if app.config.get("RATELIMIT_DEFAULT") or app.config.get("RATELIMIT_APPLICATION"):
        return False
    return sa.engine.make_url(app.config["SQLALCHEMY_DATABASE_URI"]).get_backend_name() == "postgresql"


def register_calendar_fast_path(app: Flask) -> None:
    if installable(app):
        app.wsgi_app = CalendarFastPath(app, app.wsgi_app)
