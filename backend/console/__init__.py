"""The staff web console at /console/: server-rendered pages over the same services as the API.

One blueprint per page family (`auth`, `sites`, `patients`, `studies`, `results`); templates in
`backend/templates/console/<stem>/`, the few static files in `backend/static/console/` (no CDN,
no build step). Every console answer carries a Content-Security-Policy without inline scripts or
styles, and every POST needs the form's CSRF token.
"""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, g, jsonify, redirect, request, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import generate_csrf
from werkzeug.exceptions import NotFound as HTTPNotFound

from backend.errors import http_error_payload

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
STATIC = Path(__file__).resolve().parent.parent / "static" / "console"

assets = Blueprint("console", __name__, static_folder=str(STATIC), static_url_path="/static")


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions (the console's), with the signer built once per set of keys
    instead of once per request: Flask opens a session for every request, API calls included, and
    building the signer was a tenth of a conditional GET's own time."""

    def get_signing_serializer(self, app: Flask):
        keys = (app.secret_key, *(app.config["SECRET_KEY_FALLBACKS"] or ()))
        cached = app.extensions.get("cadence.session_signer")
        if cached is None or cached[0] != keys:
            cached = app.extensions["cadence.session_signer"] = (keys, super().get_signing_serializer(app))
        return cached[1]


def register_console(app: Flask) -> None:
    from backend.console import auth, patients, results, sites, studies

    app.session_interface = SessionInterface()
    from backend.console.i18n import init_i18n

    init_i18n(app)
    for blueprint in (auth.bp, sites.bp, patients.bp, studies.bp, results.bp):
        if not blueprint._got_registered_once:  # blueprints are module-level: set up once per process
            blueprint.before_request(auth.check_csrf)
            if blueprint is not auth.bp:
                auth.register_error_pages(blueprint)
        app.register_blueprint(blueprint, url_prefix="/console")
    app.register_blueprint(assets, url_prefix="/console")
    app.add_url_rule("/", endpoint="root", view_func=lambda: redirect(url_for("console_sites.home")))

    @app.errorhandler(HTTPNotFound)
    def _not_found(error: HTTPNotFound):
        """Unknown addresses: the console's HTML page under /console/, the contract's JSON elsewhere."""
        if request.path.startswith("/console/") or request.path == "/console":
            return auth.unknown_address_page()
        body, code, headers = http_error_payload(error)
        return jsonify(body), code, headers

    @app.context_processor
    def _console_globals():
        if not request.path.startswith("/console"):
            return {}
        return {"csrf_token": generate_csrf, "current_user": g.get("user")}

    @app.after_request
    def _console_headers(response):
        if request.path == "/" or request.path.startswith("/console"):
            response.headers["Content-Security-Policy"] = CSP
            response.headers["X-Content-Type-Options"] = "nosniff"
            response.headers["Referrer-Policy"] = "same-origin"
            response.headers.setdefault("X-Frame-Options", "DENY")
            if response.mimetype == "text/html":
                response.headers["Cache-Control"] = "no-store"
                response.vary.add("Cookie")
        return response
