"""The OpenAPI document against the server (issue 10, "Done when"): a bounded, derandomised
schemathesis run over every operation, as a staff member and as a patient, on PostgreSQL. No answer
may be a 5xx, and every answer must match the schema the document declares for it.

Path parameters are either the world's real records (so the cases reach the services) or generated
(so they probe the 404s). Failures are collected, not shrunk, and reported together.
"""
from __future__ import annotations

import hypothesis.strategies as st
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_headers_conformance, response_schema_conformance

from tests.factories import PASSWORD, SiteFactory, staff_for
from tests.factories_patients import enrol, events_by_key, site_today

EXAMPLES_PER_OPERATION_AND_ROLE = 14
MIN_CASES = 1000
STATUSES: dict = {}
CHECKS = [not_a_server_error, response_schema_conformance, response_headers_conformance]


@pytest.fixture()
def world(app, db, auth):
    from datetime import timedelta

    site = SiteFactory(code="SH01")
    staff = staff_for(site)
    patient = enrol(site, "INET-PYR-VNR", first_dose=site_today(site) - timedelta(days=30),
                    account={"username": "fuzz-patient", "password": PASSWORD})
    from backend.models import User

    patient_user = db.session.get(User, patient.user_id)
    event = next(e for e in events_by_key(patient.id).values() if e.kind == "dose")
    return {"auth": auth, "admin": staff["admin"], "patient_user": patient_user, "study": site.study.code,
            "site": site.code, "patient": str(patient.id), "event": str(event.id)}


def real_path_parameters(path: str, world: dict) -> dict[str, str]:
    values = {"id": world["patient"], "patient_id": world["patient"], "event_id": world["event"]}
    if path.startswith("/api/v1/studies/"):
        values["code"] = world["study"]
    elif path.startswith("/api/v1/sites/"):
        values["code"] = world["site"]
    return values


def test_no_operation_answers_5xx_or_off_schema(app, world):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    failures: list[str] = []
    cases = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path == "/api/v1/auth/logout":
            continue  # it ends the session the next case signs in with; covered by tests/backend/api/test_auth.py
        names = {p.name for p in operation.path_parameters}
        real = {k: v for k, v in real_path_parameters(operation.path, world).items() if k in names}
        strategy = st.one_of(operation.as_strategy(path_parameters=real), operation.as_strategy()) if real \
            else operation.as_strategy()
        for role in ("admin", "patient_user"):

            @settings(max_examples=EXAMPLES_PER_OPERATION_AND_ROLE, derandomize=True, deadline=None, database=None,
                      phases=[Phase.generate], suppress_health_check=list(HealthCheck))
            @given(case=strategy)
            def run(case):
                nonlocal cases
                cases += 1
                # identity: the schema describes JSON, and the checks read the body as such (gzip is tested apart)
                headers = {**world["auth"].headers(world[role]), "Accept-Encoding": "identity"}
                try:
                    response = case.call(headers=headers)
                    STATUSES[response.status_code] = STATUSES.get(response.status_code, 0) + 1
                    case.validate_response(response, checks=CHECKS, headers=headers)
                except (Exception, BaseExceptionGroup) as error:  # collected: one report for the whole run
                    failures.append(f"{role} {operation.label}: {type(error).__name__}: {str(error)[:400]}")

            run()
    assert not failures, f"{len(failures)} failing cases:\n" + "\n".join(failures[:40])
    assert cases >= MIN_CASES
    assert not any(status >= 500 for status in STATUSES)
