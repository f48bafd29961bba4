"""Extensions, created unbound and bound to the app in app.py (no import-time side effects)."""
from __future__ import annotations

import flask_smorest
from flask_compress import Compress
import time

from flask_jwt_extended import JWTManager
from flask_jwt_extended.config import config as jwt_config
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from backend.models.base import Base
from backend.schemas.errors import ErrorSchema


class Api(flask_smorest.Api):
    """flask-smorest Api whose HTTP errors use the contract's single error shape."""

    ERROR_SCHEMA = ErrorSchema

    def _register_pagination_header(self):
        """`X-Pagination` is a header: its value is a JSON *string* (flask-smorest declares the decoded
        object, which no client or validator can match against a header's text)."""
        self.spec.components.header("PAGINATION", {
            "description": 'Pagination metadata as JSON: {"total", "total_pages", "page", "page_size", '
                           '"first_page", "last_page", "previous_page"?, "next_page"?}',
            "schema": {"type": "string", "example": '{"total": 120, "total_pages": 3, "page": 1, "page_size": 50, '
                                                    '"first_page": 1, "last_page": 3, "next_page": 2}'},
        })

    def handle_http_exception(self, error):  # noqa: D401 - flask-smorest hook
        from backend.errors import http_error_payload

        return http_error_payload(error)


class JWT(JWTManager):
    """flask-jwt-extended that verifies a token's signature once per process, not once per request.

    HS256 verification is a pure function of the token's text and the key, but PyJWT's checks of the
    text (base64 alphabet, character by character, twice per request) cost a third of a conditional
    GET's own time. A token verified before is found by (text, key, algorithms, audience, issuer) and
    its time claims (`exp`, `nbf`, `iat`) are checked again against the clock on every use; anything
    unusual (CSRF values, expired tokens allowed) takes the full path. Revocation, the account and
    scope are still read from the database on every request (backend.auth)."""

    VERIFIED_LIMIT = 4096

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._verified: dict[tuple, dict] = {}

    def _decode_jwt_from_config(self, encoded_token: str, csrf_value=None, allow_expired: bool = False) -> dict:
        if csrf_value is not None or allow_expired:
            return super()._decode_jwt_from_config(encoded_token, csrf_value, allow_expired)
        key = (encoded_token, jwt_config.decode_key, tuple(jwt_config.decode_algorithms),
               str(jwt_config.decode_audience), jwt_config.decode_issuer)
        claims = self._verified.get(key)
        if claims is not None and _times_hold(claims, jwt_config.leeway):
            return dict(claims)
        claims = super()._decode_jwt_from_config(encoded_token, csrf_value, allow_expired)
        if len(self._verified) >= self.VERIFIED_LIMIT:
            self._verified.clear()
        self._verified[key] = dict(claims)
        return claims


def _times_hold(claims: dict, leeway: float) -> bool:
    """PyJWT's time rules: not expired (`exp`), not before its time (`nbf`, `iat`)."""
    now = time.time()
    exp, nbf, iat = claims.get("exp"), claims.get("nbf"), claims.get("iat")
    return (isinstance(exp, (int, float)) and exp > now - leeway
            and (nbf is None or nbf <= now + leeway) and (iat is None or iat <= now + leeway))


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
jwt = JWT()
api = Api()
compress = Compress()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
