from flask import current_app, jsonify, request
from flask.views import MethodView
from flask_jwt_extended import current_user, get_jwt, jwt_required

from backend.api.base import Blueprint
from backend.api.docs import errors
from backend.auth import STAFF_ROLES, current_principal, require_roles, verify_password
from backend.errors import error_body
from backend.extensions import limiter
from backend.schemas.auth import LoginSchema, MeSchema, RefreshedTokenSchema, TokenPairSchema
from backend.services import auth as auth_service

blp = Blueprint("auth", __name__, description="Sign-in, token refresh, sign-out")


def _login_body() -> dict:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def _login_account_and_address() -> str:
    """One username from one address: a stranger guessing a nurse's password elsewhere never locks
    the nurse out (their address has its own count)."""
    username = _login_body().get("username")
    username = username.strip().lower()[:80] if isinstance(username, str) else ""
    return f"login-pair:{username}|{request.remote_addr or 'unknown'}"


def _login_address() -> str:
    return f"login-addr:{request.remote_addr or 'unknown'}"


def _pair_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT_PER_USERNAME"]


def _address_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT_PER_ADDRESS"]


def _throttled_like_a_wrong_password(_limit):
    """A throttled username answers exactly as a wrong password does (and costs the same hashing), so
    the lock cannot be told from a wrong guess."""
    password = _login_body().get("password")
    verify_password(None, password if isinstance(password, str) else "")
    username = _login_body().get("username")
    user = auth_service.find_user(username[:80]) if isinstance(username, str) and "\x00" not in username else None
    refusal = auth_service.refuse_sign_in(user, "throttled")
    response = jsonify(error_body(refusal.status_code, refusal.message, refusal.reason))
    response.status_code = refusal.status_code
    return response


@blp.route("/auth/login")
class Login(MethodView):
    decorators = [limiter.limit(_pair_limit, key_func=_login_account_and_address,
                                on_breach=_throttled_like_a_wrong_password),
                  limiter.limit(_address_limit, key_func=_login_address)]

    @blp.arguments(LoginSchema)
    @blp.response(200, TokenPairSchema)
    @errors(blp, 401, 429)
    @blp.doc(security=[])
    def post(self, credentials):
        """Sign in with username and password (starts a sign-in)"""
        return auth_service.login(credentials["username"], credentials["password"])


@blp.route("/auth/refresh")
class Refresh(MethodView):
    @jwt_required(refresh=True)
    @blp.response(200, RefreshedTokenSchema)
    @errors(blp, 401)
    def post(self):
        """Rotate: a new access and refresh token for the refresh token (as bearer), which is retired"""
        return auth_service.refresh(current_user, get_jwt())


@blp.route("/auth/logout")
class Logout(MethodView):
    @jwt_required(verify_type=False)
    @blp.response(204)
    @errors(blp, 401)
    def post(self):
        """End the sign-in of the bearer token: its access and refresh tokens answer 401 afterwards"""
        auth_service.logout(get_jwt())


@blp.route("/auth/logout-all")
class LogoutEverywhere(MethodView):
    @require_roles(*STAFF_ROLES, "patient")
    @blp.response(204)
    @errors(blp, 401)
    def post(self):
        """Sign out everywhere: every sign-in of the caller ends, on every device"""
        auth_service.logout_everywhere(current_user)


@blp.route("/users/<user_id>/sessions/revoke")
class RevokeSessions(MethodView):
    @require_roles("admin")
    @blp.response(204)
    @errors(blp, 401, 403, 404)
    def post(self, user_id):
        """End every sign-in of an account (admins): its tokens answer 401 afterwards"""
        auth_service.revoke_sessions(current_principal(), user_id)


@blp.route("/me")
class Me(MethodView):
    @require_roles(*STAFF_ROLES, "patient")
    @blp.response(200, MeSchema)
    @errors(blp, 401)
    def get(self):
        """The signed-in user, and for a patient their patient id"""
        return auth_service.me(current_user)
