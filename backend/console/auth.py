"""Console sign-in and sign-out, the `staff_page` guard, CSRF on every form, and the error pages.

The session is Flask's signed cookie (HttpOnly, SameSite=Lax, Secure outside a laptop demo; see
`backend/config.py`) holding the user id and a session id that sign-out revokes
(`backend.services.console`). Every POST to the console must carry the form's CSRF token
(Flask-WTF's `generate_csrf` / `validate_csrf`): the API, which takes bearer tokens and no
cookies, is not affected.
"""
from __future__ import annotations

import functools
from typing import Callable
from urllib.parse import urlsplit

from flask import (Blueprint, current_app, flash, g, redirect, render_template, request, session,
                   url_for)
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms.validators import ValidationError

from backend.auth import principal_for
from backend.errors import DomainError, Forbidden, NotFound, Unauthorized
from backend.extensions import db, limiter
from backend.models.audit import AuditActor, current_actor
from backend.services import console as console_service

bp = Blueprint("console_auth", __name__)
MAX_FIELD = 200


def _login_username() -> str:
    return f"login-user:{str(request.form.get('username') or '').strip().lower()[:MAX_FIELD]}"


def _login_address() -> str:
    return f"login-addr:{request.remote_addr or 'unknown'}"


def _username_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT_PER_USERNAME"]


def _address_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT_PER_ADDRESS"]


def check_csrf() -> None:
    """Refuse a console POST without the session's CSRF token (400, nothing done)."""
    # Flask-WTF caches the token in `g`; a request that shares an app context with an earlier one
    # (the test client inside a test's context) must read it from this request's session instead.
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)
    if request.method == "POST":
        try:
            validate_csrf(request.form.get("csrf_token"))
        except ValidationError as error:
            raise CSRFError(str(error)) from None


def _safe_next(target: str | None) -> str | None:
    """Only a path inside the console: never another host (open redirect)."""
    if not target or not target.startswith("/console/") or target.startswith("//"):
        return None
    parts = urlsplit(target)
    return None if parts.scheme or parts.netloc else target


def staff_page(*roles: str) -> Callable:
    """A console page for signed-in staff of `roles`: sets the principal and the audit actor.

    Without a live session: to the sign-in page (and back afterwards). Wrong role: 403 page.
    """

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            user = console_service.session_user(session.get("uid"), session.get("sid"))
            if user is None:
                if session.get("uid"):
                    session.clear()
                    flash(_("Your session has ended. Please sign in again."), "info")
                return redirect(url_for("console_auth.sign_in", next=request.full_path.rstrip("?")
                                        if request.method == "GET" else None))
            g.user = user
            g.principal = principal_for(user)
            current_actor.set(AuditActor(str(user.id), user.role, g.get("request_id")))
            if user.role not in roles:
                raise Forbidden(_("This page is for coordinators."), reason="role_forbidden")
            return view(*args, **kwargs)

        return wrapper

    return decorator


@bp.route("/sign-in", methods=["GET", "POST"])
@limiter.limit(_username_limit, key_func=_login_username, methods=["POST"])
@limiter.limit(_address_limit, key_func=_login_address, methods=["POST"])
def sign_in():
    """The sign-in form; staff accounts only."""
    next_url = _safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("console/auth/sign_in.html", next_url=next_url)
    username = (request.form.get("username") or "").strip()[:MAX_FIELD]
    password = (request.form.get("password") or "")[:1000]
    if "\x00" in username or "\x00" in password:
        username, password = "", ""
    try:
        user, session_id = console_service.staff_sign_in(username, password)
    except Forbidden:
        return render_template("console/auth/refused.html"), 403
    except Unauthorized:
        return render_template("console/auth/sign_in.html", next_url=next_url, username=username,
                               error=_("Invalid username or password.")), 401
    session.clear()
    session.permanent = True
    session["uid"], session["sid"] = str(user.id), session_id
    return redirect(next_url or url_for("console_sites.home"))


@bp.route("/sign-out", methods=["POST"])
def sign_out():
    """End the session for good: its id is revoked, the cookie cleared."""
    console_service.end_session(session.get("uid"), session.get("sid"), current_app.permanent_session_lifetime)
    session.clear()
    flash(_("You are signed out."), "info")
    return redirect(url_for("console_auth.sign_in"))


@bp.route("/language", methods=["POST"])
def language():
    """Remember the chosen language for this browser session (English or Simplified Chinese)."""
    choice = request.form.get("lang")
    if choice in ("en", "zh_Hans_CN"):
        session["lang"] = choice
    return redirect(_safe_next(request.form.get("next")) or url_for("console_sites.home"))


# --- error pages ---------------------------------------------------------------------------------
def error_page(status: int, title: str, message: str):
    db.session.rollback()
    return render_template("console/error.html", status=status, title=title, message=message), status


def not_found_page():
    """The one 404 page: for a record out of scope, a missing one and an unknown console address alike."""
    return error_page(404, _("Not found"), _("There is nothing here, or it is not in your sites or studies."))


def unknown_address_page():
    """An address under /console/ that no page answers: the console's 404 page (signed in: with the menu)."""
    user = console_service.session_user(session.get("uid"), session.get("sid"))
    if user is not None:
        g.user = user
    return not_found_page()


def register_error_pages(blueprint: Blueprint) -> None:
    @blueprint.errorhandler(NotFound)
    def _not_found(_error):
        return not_found_page()

    @blueprint.errorhandler(Forbidden)
    def _forbidden(error):
        return error_page(403, _("Not allowed"), error.message)

    @blueprint.errorhandler(CSRFError)
    def _csrf(_error):
        return error_page(400, _("The form has expired"),
                          _("The page was open too long or came from elsewhere. Go back, reload and try again."))

    @blueprint.errorhandler(429)
    def _too_many(_error):
        return error_page(429, _("Too many attempts"), _("Wait a minute, then try again."))

    @blueprint.errorhandler(DomainError)
    def _domain(error):
        return error_page(error.status_code, _("That did not work"), error.message)


register_error_pages(bp)
