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
import re
import uuid

from werkzeug.http import http_date

from backend.api.fast_paths import FastPath, bearer_claims, compressed, compression, installable
from backend.api.worklists import blp
from backend.auth import STAFF_ROLES, signed_in
from backend.schemas.worklists import WorklistRowSchema
from backend.services import worklist_cache

# The page a request without a query gets: the worklist Blueprint's default page size.
PAGE_SIZE = blp.DEFAULT_PAGINATION_PARAMETERS["page_size"]


class WorklistFastPath(FastPath):
    PATH = re.compile(r"/api/v1/sites/([A-Za-z0-9_.-]{1,64})/worklist")
    NAME = "worklist"
    dump = staticmethod(WorklistRowSchema(many=True).dump)

    def _answer(self, environ, code: str):
        with self.app.app_context():
            claims = bearer_claims(environ)
            if claims is None:
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
            pagination = json.dumps(blp._make_pagination_metadata(1, PAGE_SIZE, len(rows)))
            headers = [("X-Pagination", pagination),
                       ("X-Request-ID", environ.get("HTTP_X_REQUEST_ID") or uuid.uuid4().hex),
                       ("Vary", "Accept-Encoding")]
            algorithm = compression(self.app, environ.get("HTTP_ACCEPT_ENCODING"), len(body))
            if algorithm is not None:
                body = compressed(self.app, body, algorithm)
                headers += [("Content-Encoding", algorithm), ("Date", http_date())]  # as flask-compress
        return "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *headers], body


def register_worklist_fast_path(app) -> None:
    """Installed where the calendar's is (same reasons: rate limits, PostgreSQL)."""
    if installable(app):
        app.wsgi_app = WorklistFastPath(app, app.wsgi_app)
