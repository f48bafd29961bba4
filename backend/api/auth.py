from flask import request
from flask.views import MethodView
from flask_jwt_extended import current_user, get_jwt, jwt_required

from backend.api.base import Blueprint
from backend.api.docs import errors
from backend.auth import STAFF_ROLES, require_roles
from backend.extensions import limiter
from backend.schemas.auth import LoginSchema, MeSchema, RefreshedTokenSchema, TokenPairSchema
from backend.services import auth as auth_service

blp = Blueprint("auth", __name__, description="Sign-in, token refresh, sign-out")


def _login_username() -> str:
    body = request.get_json(silent=True) or {}
    username = body.get("username") if isinstance(body, dict) else None
    return f"login-user:{str(username or '').strip().lower()}"


def _login_address() -> str:
    return f"login-addr:{request.remote_addr or 'unknown'}"


def _username_limit() -> str:
    from flask import current_app

    return current_app.config["LOGIN_RATE_LIMIT_PER_USERNAME"]


def _address_limit() -> str:
    from flask import current_app

    return current_app.config["LOGIN_RATE_LIMIT_PER_ADDRESS"]


@blp.route("/auth/login")
class Login(MethodView):
    decorators = [limiter.limit(_username_limit, key_func=_login_username),
                  limiter.limit(_address_limit, key_func=_login_address)]

    @blp.arguments(LoginSchema)
    @blp.response(200, TokenPairSchema)
    @errors(blp, 401, 429)
    @blp.doc(security=[])
    def post(self, credentials):
        """Sign in with username and password"""
        return auth_service.login(credentials["username"], credentials["password"])


@blp.route("/auth/refresh")
class Refresh(MethodView):
    @jwt_required(refresh=True)
    @blp.response(200, RefreshedTokenSchema)
    @errors(blp, 401)
    def post(self):
        """Exchange a refresh token (as bearer) for a new access token"""
        return auth_service.refresh(current_user)


@blp.route("/auth/logout")
class Logout(MethodView):
    @jwt_required(verify_type=False)
    @blp.response(204)
    @errors(blp, 401)
    def post(self):
        """Revoke the bearer token (access or refresh); it answers 401 afterwards"""
        auth_service.logout(get_jwt())


@blp.route("/me")
class Me(MethodView):
    @require_roles(*STAFF_ROLES, "patient")
    @blp.response(200, MeSchema)
    @errors(blp, 401)
    def get(self):
        """The signed-in user, and for a patient their patient id"""
        return auth_service.me(current_user)
