"""The OpenAPI document the server publishes agrees with ../shared/CONTRACT.md (issue 9, item 9).

The contract's tables are parsed: every `METHOD /path?param=&...` they name (in any column) must be an
operation of `/api/v1/openapi.json`, with each query parameter documented; and the document must
validate as OpenAPI 3 (openapi-spec-validator).

Routes (and parameters) the contract names that other branches of this round add are listed in
``NOT_YET_IMPLEMENTED``: empty it as they land. Nothing else may be missing.
"""
from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from openapi_spec_validator import validate

CONTRACT = Path(__file__).resolve().parents[4] / "shared" / "CONTRACT.md"
BASE = "/api/v1"
_ROUTE = re.compile(r"`(GET|POST|PATCH|PUT|DELETE) (/[^`\s]*)`")

# (method, contract path, query parameter or None): added this round by other branches.
NOT_YET_IMPLEMENTED: set[tuple[str, str, str | None]] = set()
# Parameters the contract's prose names on a route whose table row does not list them.
ALSO_DOCUMENTED = {("GET", "/patients/{id}/calendar", "updated_since")}


def _expand(path: str) -> list[str]:
    """`/exports/{adtte,adrs}.csv` → both paths (a brace holding commas is a list, not a parameter)."""
    parts = re.split(r"(\{[^}]*,[^}]*\})", path)
    choices = [part[1:-1].split(",") if part.startswith("{") and "," in part else [part] for part in parts]
    return ["".join(combo) for combo in itertools.product(*choices)]


def contract_items() -> list[tuple[str, str, str | None]]:
    """(method, path, query parameter or None) for every route the contract's tables name."""
    items = []
    for line in CONTRACT.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            continue
        for method, target in _ROUTE.findall(line):
            path, _, query = target.partition("?")
            for one in _expand(path):
                items.append((method, one, None))
                items.extend((method, one, name) for name in re.findall(r"([a-z_]+)=", query))
    return list(dict.fromkeys([*items, *ALSO_DOCUMENTED]))


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


@pytest.fixture(scope="module")
def document(app):
    return app.test_client().get(f"{BASE}/openapi.json").get_json()


def _operation(document, method: str, path: str):
    for documented, item in document["paths"].items():
        if _shape(documented) == _shape(BASE + path) and method.lower() in item:
            return item, item[method.lower()]
    return None, None


def test_the_contract_is_parsed():
    items = contract_items()
    assert ("GET", "/patients/{id}/calendar", "from") in items
    assert ("GET", "/studies/{code}/exports/subject-visits.csv", None) in items
    assert ("POST", "/alerts/{id}/acknowledge", None) in items  # named in an answer column
    assert len({(m, p) for m, p, q in items if q is None}) > 35


@pytest.mark.parametrize(("method", "path", "param"), contract_items(), ids=lambda v: str(v))
def test_every_route_and_parameter_of_the_contract_is_documented(document, method, path, param):
    if (method, path, param) in NOT_YET_IMPLEMENTED:
        pytest.skip("added by another branch of this round; remove it from NOT_YET_IMPLEMENTED when it lands")
    item, operation = _operation(document, method, path)
    assert operation is not None, f"{method} {path} is not in the OpenAPI document"
    if param is not None:
        names = {p["name"] for p in [*item.get("parameters", []), *operation.get("parameters", [])]
                 if p.get("in") == "query"}
        assert param in names, f"{method} {path}: query parameter {param!r} is not documented"


def test_nothing_listed_as_not_yet_implemented_is_implemented(document):
    """Keep the list honest: once a route lands, its entry must go."""
    landed = []
    for method, path, param in NOT_YET_IMPLEMENTED:
        item, operation = _operation(document, method, path)
        if operation is None:
            continue
        if param is None or param in {p["name"] for p in [*item.get("parameters", []),
                                                            *operation.get("parameters", [])]}:
            landed.append((method, path, param))
    assert landed == []


def test_the_document_validates_as_openapi_3(document):
    validate(document)
