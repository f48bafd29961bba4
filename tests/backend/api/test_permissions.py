"""The permission walk: every protected route answers 401 without a token, 403 to a role that may
never call it, and 404 to a user whose scope does not include the record (CONTRACT.md "Conventions").

Routes are discovered from the app, so a new endpoint is walked without editing this file; only a new
kind of path parameter needs a line in `path_values`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from tests.factories import PatientFactory, SiteFactory, StudyFactory, UserFactory

ROLES = ("admin", "coordinator", "nurse", "patient")


@dataclass(frozen=True)
class Route:
    rule: str
    method: str
    roles: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.method} {self.rule}"


def protected_routes(app) -> list[Route]:
    routes = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        view_class = getattr(view, "view_class", None)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            handler = getattr(view_class, method.lower(), None) if view_class else view
            roles = getattr(handler, "__cadence_roles__", None)
            if roles is not None:
                routes.append(Route(rule.rule, method, tuple(roles)))
    return routes


@pytest.fixture()
def world(db):
    """Two studies, each with a site and a patient; staff of each role for study A."""
    site_a = SiteFactory(code="A01")
    site_b = SiteFactory(code="B01")
    patient_a_user = UserFactory(role="patient")
    patient_b_user = UserFactory(role="patient")
    patient_a = PatientFactory(site=site_a, user_id=patient_a_user.id)
    patient_b = PatientFactory(site=site_b, user_id=patient_b_user.id)
    return {
        "site_a": site_a, "site_b": site_b, "patient_a": patient_a, "patient_b": patient_b,
        "in_scope": {
            "admin": UserFactory(role="admin"),
            "coordinator": UserFactory(role="coordinator", studies=[site_a.study]),
            "nurse": UserFactory(role="nurse", sites=[site_a]),
            "patient": patient_a_user,
        },
        "out_of_scope": {
            "coordinator": UserFactory(role="coordinator", studies=[StudyFactory(code="OTHER")]),
            "nurse": UserFactory(role="nurse", sites=[site_b]),
            "patient": patient_b_user,
        },
    }


def path_values(world) -> dict[str, str]:
    """A value for each kind of path parameter, all belonging to study A / site A01 / patient A."""
    patient = world["patient_a"]
    return {
        "id": str(patient.id), "patient_id": str(patient.id), "code": world["site_a"].code,
        "study_code": world["site_a"].study.code, "site_code": world["site_a"].code,
        "event_id": "00000000-0000-0000-0000-000000000000", "alert_id": "00000000-0000-0000-0000-000000000000",
        "reminder_id": "00000000-0000-0000-0000-000000000000", "user_id": str(world["in_scope"]["nurse"].id),
        "device_id": "00000000-0000-0000-0000-000000000000",
    }


def fill(rule: str, values: dict[str, str]) -> str:
    def value(match: re.Match) -> str:
        name = match.group(2)
        if "studies" in rule and name == "code":
            return values["study_code"]
        return values[name]

    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>".replace("(?:[a-z]+:)?", "(?:([a-z]+):)?"), value, rule)


def call(client, route: Route, path: str, headers=None):
    return client.open(path, method=route.method, headers=headers or {}, json={} if route.method != "GET" else None)


def test_there_are_protected_routes_to_walk(app):
    assert len(protected_routes(app)) >= 5


def test_every_protected_route_needs_a_token(app, client, world):
    values = path_values(world)
    for route in protected_routes(app):
        answer = call(client, route, fill(route.rule, values))
        assert answer.status_code == 401, str(route)
        assert answer.get_json()["reason"] in {"missing_token", "invalid_token"}, str(route)


def test_every_protected_route_refuses_roles_that_may_never_call_it(app, client, auth, world):
    values = path_values(world)
    for route in protected_routes(app):
        for role in set(ROLES) - set(route.roles):
            answer = call(client, route, fill(route.rule, values), auth.headers(world["in_scope"][role]))
            assert answer.status_code == 403, f"{route} as {role}"
            assert answer.get_json()["reason"] == "role_forbidden"


def test_records_out_of_scope_answer_404_like_missing_ones(app, client, auth, world):
    values = path_values(world)
    walked = 0
    for route in protected_routes(app):
        if route.method != "GET" or "<" not in route.rule:
            continue
        for role, user in world["out_of_scope"].items():
            if role not in route.roles:
                continue
            answer = call(client, route, fill(route.rule, values), auth.headers(user))
            assert answer.status_code == 404, f"{route} as out-of-scope {role}: {answer.status_code}"
            walked += 1
    assert walked >= 1
