"""The one error shape of the API, and the map from domain errors to HTTP statuses.

Every error answer is `{"code", "status", "message", "reason", "errors"?}`: `reason` is a stable
snake_case slug mobile clients branch on; `errors` appears only on validation failures.
"""
from __future__ import annotations

import logging
import traceback
from http import HTTPStatus
from typing import Any

import marshmallow as ma
from flask import Flask, current_app, jsonify
from flask_jwt_extended.exceptions import JWTExtendedException
from flask_limiter.errors import RateLimitExceeded
from jwt.exceptions import PyJWTError
from sqlalchemy.exc import DBAPIError, IntegrityError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

DEFAULT_REASONS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
}


class DomainError(Exception):
    """A rule of the domain said no; carries the HTTP status and stable reason for the answer."""

    status_code = 400
    reason = "bad_request"

    def __init__(self, message: str, *, reason: str | None = None, errors: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        if reason:
            self.reason = reason
        self.errors = errors


class NotFound(DomainError):
    status_code = 404
    reason = "not_found"


class Forbidden(DomainError):
    status_code = 403
    reason = "forbidden"


class Unauthorized(DomainError):
    status_code = 401
    reason = "unauthorized"


class Conflict(DomainError):
    status_code = 409
    reason = "conflict"


class InvalidInput(DomainError):
    """422 naming the offending field(s): `errors` is `{"json": {field: [messages]}}`."""

    status_code = 422
    reason = "validation_error"

    def __init__(self, field: str, message: str, *, reason: str | None = None, location: str = "json"):
        super().__init__(message, reason=reason, errors={location: {field: [message]}})
        self.field = field


def error_body(status_code: int, message: str, reason: str | None = None, errors: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": status_code,
        "status": HTTPStatus(status_code).phrase,
        "message": message or HTTPStatus(status_code).phrase,
        "reason": reason or DEFAULT_REASONS.get(status_code, "error"),
    }
    if errors:
        body["errors"] = errors
    return body


def http_error_payload(error: HTTPException):
    """Render a werkzeug/webargs HTTPException in the contract's shape."""
    data = getattr(error, "data", None) or {}
    headers = dict(data.get("headers") or {})
    code = error.code or 500
    errors = data.get("errors") or data.get("messages")
    if code == 400 and errors:
        # A body that is not JSON is invalid input like any other (422), not a protocol error.
        code, data = 422, {**data, "reason": "invalid_json", "message": "The request body is not valid JSON."}
    message = data.get("message") or (error.description if code != 500 else "Internal server error")
    if code == 422 and errors and not data.get("message"):
        message = "The request has invalid fields: " + _field_summary(errors)
    if code == 429:
        message = data.get("message") or "Too many attempts; try again later."
        response = error.get_response()
        for name in ("Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
            if name in response.headers:
                headers[name] = response.headers[name]
    if code == 405:
        allowed = error.get_response().headers.get("Allow")
        if allowed:
            headers["Allow"] = allowed
    return error_body(code, message, data.get("reason"), errors), code, headers


def _field_summary(errors: Any) -> str:
    names: list[str] = []
    if isinstance(errors, dict):
        for location, fields in errors.items():
            if isinstance(fields, dict):
                names.extend(str(name) for name in fields)
            else:
                names.append(str(location))
    return ", ".join(names) or "body"


def describe_db_error(error: DBAPIError) -> str:
    """What a database error may say in a log: its class, SQLSTATE and constraint, and the statement
    (parameterised, so without values); never the parameters or the server's message and DETAIL."""
    orig = getattr(error, "orig", None)
    diag = getattr(orig, "diag", None)
    parts = [type(orig).__name__ if orig is not None else type(error).__name__]
    sqlstate = getattr(orig, "sqlstate", None) or getattr(diag, "sqlstate", None)
    if sqlstate:
        parts.append(f"sqlstate={sqlstate}")
    for name in ("constraint_name", "table_name", "column_name"):
        value = getattr(diag, name, None)
        if value:
            parts.append(f"{name.split('_')[0]}={value}")
    statement = " ".join(str(error.statement or "").split())[:500]
    if statement:
        parts.append(f"statement={statement}")
    return " ".join(parts)


def _endpoint() -> str:
    from flask import has_request_context, request

    return f"{request.method} {request.endpoint}" if has_request_context() else "-"


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(error: DomainError):
        return jsonify(error_body(error.status_code, error.message, error.reason, error.errors)), error.status_code

    @app.errorhandler(ma.ValidationError)
    def _schema(error: ma.ValidationError):
        errors = {"json": error.messages} if isinstance(error.messages, dict) else {"json": {"_schema": error.messages}}
        body = error_body(422, "The request has invalid fields: " + _field_summary(errors), None, errors)
        return jsonify(body), 422

    @app.errorhandler(IntegrityError)
    def _integrity(error: IntegrityError):
        from backend.extensions import db

        db.session.rollback()
        log.info("integrity error: %s", describe_db_error(error))
        return jsonify(error_body(409, "The change conflicts with an existing record.", "integrity_conflict")), 409

    @app.errorhandler(OverflowError)
    def _overflow(error: OverflowError):
        """A safety net: date arithmetic on a date the schemas let through ran off the calendar (a
        route whose schema lacks the bounds of backend.schemas.fields). Nothing was written."""
        from backend.extensions import db

        db.session.rollback()
        log.warning("date arithmetic overflow on %s", _endpoint())
        return jsonify(error_body(422, "A date or number is out of range.", "out_of_range")), 422

    @app.errorhandler(JWTExtendedException)
    @app.errorhandler(PyJWTError)
    def _jwt(error: Exception):
        return jsonify(error_body(401, "Missing, invalid or expired token.", "invalid_token")), 401

    @app.errorhandler(RateLimitExceeded)
    def _rate_limited(error: RateLimitExceeded):
        if error.response is not None and error.response.status_code != 429:
            return error.response  # a limit that answers as something else (the sign-in throttle: 401)
        body, code, headers = http_error_payload(error)
        return jsonify(body), code, headers

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        if isinstance(error, HTTPException):
            body, code, headers = http_error_payload(error)
            return jsonify(body), code, headers
        from backend.extensions import db

        if isinstance(error, DBAPIError):
            # Never the exception text: the driver's message and DETAIL can quote the values.
            log.error("unhandled database error on %s: %s\n%s", _endpoint(), describe_db_error(error),
                      "".join(traceback.format_tb(error.__traceback__)))
        else:
            log.exception("unhandled error on %s", _endpoint())

        db.session.rollback()
        message = repr(error) if current_app.debug else "Internal server error"
        return jsonify(error_body(500, message, "internal_error")), 500
