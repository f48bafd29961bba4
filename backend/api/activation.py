from flask import current_app, request
from flask.views import MethodView

from backend.api.base import Blueprint
from backend.api.docs import errors
from backend.auth import STAFF_ROLES, current_principal, require_roles
from backend.extensions import limiter
from backend.schemas.activation import ActivationCodeSchema, ActivationSchema
from backend.schemas.auth import TokenPairSchema
from backend.services import activation as activation_service

blp = Blueprint("activation", __name__, description="Patients onboarded with a one-time activation code")

NO_STORE = {"Cache-Control": "no-store"}  # a code or a token pair must not sit in a cache


def _code_key() -> str:
    body = request.get_json(silent=True) or {}
    code = body.get("code") if isinstance(body, dict) else None
    return f"activate-code:{activation_service.normalise(str(code or ''))[:40]}"


def _address_key() -> str:
    return f"activate-addr:{request.remote_addr or 'unknown'}"


@blp.route("/patients/<id>/activation-code")
class PatientActivationCode(MethodView):
    @require_roles(*STAFF_ROLES)
    @blp.response(201, ActivationCodeSchema)
    @errors(blp, 401, 403, 404)
    def post(self, id):
        """Issue the patient a one-time activation code (shown once; replaces an earlier code)"""
        return activation_service.issue_code(current_principal(), id), 201, NO_STORE


@blp.route("/auth/activate")
class Activate(MethodView):
    # Sign-in's limits (LOGIN_RATE_LIMIT_PER_*), counted apart from sign-in: per code and per address.
    decorators = [limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT_PER_USERNAME"], key_func=_code_key),
                  limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT_PER_ADDRESS"], key_func=_address_key)]

    @blp.arguments(ActivationSchema)
    @blp.response(200, TokenPairSchema)
    @errors(blp, 401, 429)
    @blp.doc(security=[])
    def post(self, data):
        """A patient's first sign-in with the activation code staff gave them, choosing a password"""
        return activation_service.activate(data["code"], data["password"]), 200, NO_STORE
