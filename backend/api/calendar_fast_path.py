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

import re
import uuid

from werkzeug.http import http_date

from backend.api.calendars import CALENDAR_READERS
from backend.api.fast_paths import FastPath, bearer_claims, compressed, compression, installable
from backend.auth import signed_in
from backend.errors import NotFound
from backend.services import calendar_reads


class CalendarFastPath(FastPath):
    PATH = re.compile(r"/api/v1/patients/([0-9a-fA-F-]{36})/calendar")
    NAME = "calendar"

    def _answer(self, environ, raw_id: str):
        try:
            patient_id = uuid.UUID(raw_id)
        except ValueError:
            return None
        with self.app.app_context():
            claims = bearer_claims(environ)
            if claims is None:
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
                    ("X-Request-ID", environ.get("HTTP_X_REQUEST_ID") or uuid.uuid4().hex),
                    ("Vary", "Accept-Encoding")]
            if current:
                return "304 NOT MODIFIED", tail, b""
            if text is None:
                return None
            algorithm = compression(self.app, environ.get("HTTP_ACCEPT_ENCODING"), len(text))
            if algorithm is not None:
                plain = text
                text = calendar_reads.CalendarBodies.variant(etag, algorithm,
                                                             lambda: compressed(self.app, plain, algorithm))
                tail += [("Content-Encoding", algorithm), ("Date", http_date())]  # as flask-compress's make_conditional
        return "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(text))), *tail], text


def register_calendar_fast_path(app) -> None:
    if installable(app):
        app.wsgi_app = CalendarFastPath(app, app.wsgi_app)
