"""The worklist's fast path: the first page of a site's worklist already made, answered in front of Flask.

Nurses and the console ask for a site's worklist far more often than anything on it changes, and a
worklist already made (backend.services.worklist_cache) is then mostly Flask's request machinery and
three round trips to the database. This WSGI middleware answers that one case after one round trip:

- `GET /api/v1/sites/<code>/worklist`, no query string (the first page of 50, today at the site), no
  body, an `Authorization: Bearer` token, an `X-Request-ID` absent or valid;
- the token verifies and is a well-formed access token of a live sign-in of an active staff account,
  and the site is in its scope: the same statement and functions as the Flask path's sign-in
  (backend.sign_in_reads.signed_in with worklist_cache.SIGNED_IN_SITE, backend.auth.can_see_site);
- a worklist is kept for the site's today under the key just read (the key `site_stamp` makes).

Anything else goes to Flask untouched, which answers as before (401, 403, 404, 422, another page,
another day, a worklist derived anew). The body and headers are the Flask path's (same schema, same
JSON provider, same pagination metadata, flask-compress's choice of encoding); a test compares them.
Like the calendar's, it is installed only where no rate limit applies to every route, on PostgreSQL.
"""
from __future__ import annotations

import json
import logging
import re
import uuid

import flask_compress.flask_compress as flask_compress
from flask import Flask
from werkzeug.http import http_date

from backend.api.calendar_fast_path import _compression, installable
from backend.auth import STAFF_ROLES
from backend.guards import REQUEST_ID_PATTERN
from backend.schemas.worklists import WorklistRowSchema
from backend.services import worklist_cache

PATH = re.compile(r"/api/v1/sites/([A-Za-z0-9_.-]{1,64})/worklist")
PAGE_SIZE = 50  # backend.api.base.Blueprint's default page size: the page a request without a query gets


class WorklistFastPath:
    def __init__(self, app: Flask, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app
        self.dump = WorklistRowSchema(many=True).dump

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") == "GET" and not environ.get("QUERY_STRING") \
                and environ.get("CONTENT_LENGTH") in (None, "", "0") and not environ.get("HTTP_TRANSFER_ENCODING"):
            match = PATH.fullmatch(environ.get("PATH_INFO", ""))
            if match is not None:
                try:
                    answer = self._answer(environ, match.group(1))
                except Exception:  # noqa: BLE001 - Flask's path answers (and logs) any failure its own way
                    logging.getLogger("cadence").warning("worklist fast path failed; answered by Flask",
                                                         exc_info=False)
                    answer = None
                if answer is not None:
                    headers, body = answer
                    start_response("200 OK", headers)
                    return [body]
        return self.wsgi_app(environ, start_response)

    def _answer(self, environ, code: str):
        authorization = environ.get("HTTP_AUTHORIZATION", "")
        request_id = environ.get("HTTP_X_REQUEST_ID")
        if not authorization.startswith("Bearer ") or (
                request_id is not None and not REQUEST_ID_PATTERN.fullmatch(request_id)):
            return None
        with self.app.app_context():
            from flask_jwt_extended.config import config as jwt_config

            from backend.extensions import jwt
            from backend.sign_in_reads import signed_in

            if jwt_config.header_name != "Authorization" or jwt_config.header_type != "Bearer":
                return None
            try:
                claims = jwt._decode_jwt_from_config(authorization[len("Bearer "):])
            except Exception:  # noqa: BLE001 - any refusal is the Flask path's to answer
                return None
            found = signed_in(claims, STAFF_ROLES, worklist_cache.SIGNED_IN_SITE, {"code": code}, environ)
            if found is None:
                return None
            principal, row = found
            head = worklist_cache.visible_site_head(principal, row)
            rows = None if head is None else worklist_cache.remembered_rows(head)
            if rows is None:
                return None
            body = self.app.json.response(self.dump(rows[:PAGE_SIZE])).get_data()
            from backend.api.worklists import blp

            pagination = json.dumps(blp._make_pagination_metadata(1, PAGE_SIZE, len(rows)))
            headers = [("X-Pagination", pagination), ("X-Request-ID", request_id or uuid.uuid4().hex),
                       ("Vary", "Accept-Encoding")]
            algorithm = _compression(self.app, environ.get("HTTP_ACCEPT_ENCODING"), len(body))
            if algorithm is not None:
                body = flask_compress._compress_data(self.app, body, algorithm)
                headers += [("Content-Encoding", algorithm), ("Date", http_date())]  # as flask-compress
        return [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *headers], body


def register_worklist_fast_path(app: Flask) -> None:
    """Installed where the calendar's is (same reasons: rate limits, PostgreSQL)."""
    if installable(app):
        app.wsgi_app = WorklistFastPath(app, app.wsgi_app)
