"""Hostile input refused at the door, before any view, schema or service sees it.

One `before_request` hook covers every route, including routes added later: a request whose path,
query string or JSON body carries a NUL byte (PostgreSQL text cannot store one, so it would reach the
database as a 500), a JSON body nested deeper than any payload of the contract (the parser and the
schemas recurse), or an `X-Request-ID` the audit trail cannot store (64 characters) is a 422 in the
contract's error shape. The body size is bounded by `MAX_CONTENT_LENGTH` (werkzeug answers 413 when
the body is read). Per-field bounds (lengths, list sizes, value ranges) live in the schemas.
"""
from __future__ import annotations

import json
import re
from typing import Any

from flask import Flask, request

from backend.errors import DomainError

MAX_JSON_DEPTH = 32
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._:\-]{1,64}")
NUL = "\x00"


class RefusedInput(DomainError):
    status_code = 422


def _refuse(location: str, field: str, message: str, reason: str) -> RefusedInput:
    return RefusedInput(f"{field}: {message}", reason=reason, errors={location: {field: [message]}})


def check_path_and_query() -> None:
    if NUL in request.path:
        raise _refuse("path", "path", "NUL bytes are not allowed.", "nul_byte")
    for key, value in request.args.items(multi=True):
        if NUL in key or NUL in value:
            raise _refuse("query", key.replace(NUL, "\\0"), "NUL bytes are not allowed.", "nul_byte")


def check_request_id() -> None:
    value = request.headers.get("X-Request-ID")
    if value is not None and not REQUEST_ID_PATTERN.fullmatch(value):
        raise _refuse("headers", "X-Request-ID", "At most 64 letters, digits or . _ : - characters.",
                      "invalid_request_id")


def check_json_body() -> None:
    """Parse the body once to look at it (webargs parses it again for the schema): invalid JSON is
    left for the schema layer to report; depth and NUL bytes are refused here."""
    if not request.is_json:
        return
    raw = request.get_data(cache=True)  # 413 past MAX_CONTENT_LENGTH
    if not raw:
        return
    try:
        body = json.loads(raw)
    except RecursionError:
        raise _refuse("json", "_schema", f"JSON nested deeper than {MAX_JSON_DEPTH} levels.", "too_deep") from None
    except ValueError:
        return
    problem = find_problem(body)
    if problem is not None:
        where, message, reason = problem
        raise _refuse("json", where, message, reason)


def find_problem(body: Any) -> tuple[str, str, str] | None:
    """The first NUL byte (in a key or a string) or excess nesting in a parsed JSON document, as
    (dotted path, message, reason); None when there is none. Iterative: no recursion on hostile input."""
    stack: list[tuple[Any, str, int]] = [(body, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, (dict, list)) and depth > MAX_JSON_DEPTH:
            return path or "_schema", f"JSON nested deeper than {MAX_JSON_DEPTH} levels.", "too_deep"
        if isinstance(value, str):
            if NUL in value:
                return path or "_schema", "NUL bytes are not allowed.", "nul_byte"
        elif isinstance(value, dict):
            for key, item in value.items():
                child = f"{path}.{key}" if path else str(key)
                if NUL in key:
                    return child.replace(NUL, "\\0"), "NUL bytes are not allowed.", "nul_byte"
                stack.append((item, child, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{n}]" if path else f"[{n}]", depth + 1) for n, item in enumerate(value))
    return None


def register_request_guards(app: Flask) -> None:
    @app.before_request
    def _guard() -> None:
        check_path_and_query()
        check_request_id()
        check_json_body()
