"""Property (issue 10, "Done when"): for every route that takes a date or a date-time, the server never
answers 5xx for any value the OpenAPI document accepts (`format: date`: years 1 to 9999;
`format: date-time`: any offset). The routes are read from the published document, so routes added
later are covered too; a known valid body per route lets the date reach the services rather than stop
at a missing field.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, Phase, given, settings

from tests.factories import PASSWORD, SiteFactory, staff_for
from tests.factories_patients import enrol, events_by_key, site_today

EXAMPLES = 12
TODAY = date.today()

dates = st.one_of(
    st.sampled_from([date(1, 1, 1), date(9999, 12, 31), date(1899, 12, 31), date(1900, 1, 1), date(2199, 12, 31),
                     date(2200, 1, 1)]),
    st.dates(),
    st.dates(min_value=TODAY - timedelta(days=800), max_value=TODAY + timedelta(days=800)),
)
offsets = st.one_of(st.sampled_from([timedelta(hours=14), timedelta(hours=-12), timedelta(0)]),
                    st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(lambda m: timedelta(minutes=m)))
datetimes = st.builds(lambda moment, offset: moment.replace(tzinfo=timezone(offset)).isoformat(),
                      st.one_of(st.sampled_from([datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59)]),
                                st.datetimes(), st.datetimes(min_value=datetime(TODAY.year - 2, 1, 1),
                                                             max_value=datetime(TODAY.year + 2, 12, 31))),
                      offsets)


def _resolve(schema: dict, components: dict) -> dict:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def date_inputs(spec: dict) -> list[tuple[str, str, str, str, str, bool]]:
    """(method, path, location, name, format, is_list) for every date or date-time input."""
    components = spec["components"]["schemas"]
    found = []
    for path, operations in spec["paths"].items():
        shared = operations.get("parameters", [])
        for method, operation in operations.items():
            if method == "parameters":
                continue
            for parameter in [*shared, *operation.get("parameters", [])]:
                fmt = parameter.get("schema", {}).get("format")
                if parameter["in"] == "query" and fmt in ("date", "date-time"):
                    found.append((method.upper(), path, "query", parameter["name"], fmt, False))
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            for name, prop in (_resolve(body, components).get("properties", {}) if body else {}).items():
                prop = _resolve(prop, components)
                is_list = prop.get("type") == "array"
                fmt = (_resolve(prop.get("items", {}), components) if is_list else prop).get("format")
                if fmt in ("date", "date-time"):
                    found.append((method.upper(), path, "json", name, fmt, is_list))
    return found


def base_bodies(world: dict) -> dict[tuple[str, str], dict]:
    """A valid body per route, so that only the date under test can be wrong."""
    first_dose = world["first_dose"].isoformat()
    return {
        ("POST", "/api/v1/sites"): {"code": "PX", "name": "Property", "study": world["study"],
                                    "timezone": "Asia/Shanghai", "country": "CN"},
        ("POST", "/api/v1/patients"): {"study": world["study"], "site": world["site"], "subject_id": "PROP-1",
                                       "regimen": "INET-PAC", "first_dose_date": first_dose},
        ("POST", "/api/v1/patients/{id}/discontinue"): {"date": first_dose, "reason": "property"},
        ("PATCH", "/api/v1/patients/{id}/events/{event_id}"): {"status": "completed", "actual_date": first_dose,
                                                               "reason": "property"},
        ("POST", "/api/v1/patients/{patient_id}/symptom-reports"): {
            "client_report_id": "NEW", "completed_at": "NOW", "answers": [{"item": "PROCTCAE_9A_SCL", "value": 1}]},
        ("POST", "/api/v1/patients/{patient_id}/adverse-events"): {
            "ctcae_term": "Alopecia", "grade": 1, "onset_date": first_dose, "serious": False, "related": False,
            "action_taken": "dose_not_changed"},
        ("POST", "/api/v1/patients/{id}/assessments"): {"date": first_dose, "overall_response": "SD"},
        ("POST", "/api/v1/patients/{id}/outcomes"): {"type": "follow_up_ended", "date": first_dose},
    }


@pytest.fixture()
def world(app, db, auth):
    site = SiteFactory(code="SH01")
    admin = staff_for(site)["admin"]
    patient = enrol(site, "INET-PAC", first_dose=site_today(site) - timedelta(days=60),
                    account={"username": "prop-patient", "password": PASSWORD})
    event = events_by_key(patient.id)["dose:C1D8"]
    return {"site": site.code, "study": site.study.code, "patient": str(patient.id), "event": str(event.id),
            "first_dose": patient.first_dose_date, "admin": auth.headers(admin)}


def _url(path: str, world: dict) -> str:
    code = world["study"] if path.startswith("/api/v1/studies/") else world["site"]
    return path.format(id=world["patient"], patient_id=world["patient"], event_id=world["event"], code=code,
                       reminder_id=uuid.uuid4())


def test_no_date_the_schema_accepts_makes_a_5xx(app, client, world):
    spec = client.get("/api/v1/openapi.json").get_json()
    inputs = date_inputs(spec)
    assert len(inputs) >= 20  # the routes of CONTRACT.md that take dates, at least
    bodies = base_bodies(world)
    failures: list[str] = []
    for method, path, location, name, fmt, is_list in inputs:
        values = datetimes if fmt == "date-time" else dates.map(date.isoformat)

        @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(value=values)
        def run(value):
            url = _url(path, world)
            if location == "query":
                answer = client.open(url, method=method, query_string={name: value}, headers=world["admin"])
            else:
                body = dict(bodies.get((method, path), {}))
                if body.get("client_report_id") == "NEW":
                    body["client_report_id"] = str(uuid.uuid4())
                if body.get("completed_at") == "NOW":
                    body["completed_at"] = datetime.now(timezone.utc).isoformat()
                body[name] = [value] if is_list else value
                answer = client.open(url, method=method, json=body, headers=world["admin"])
            if answer.status_code >= 500:
                failures.append(f"{method} {path} {name}={value}: {answer.status_code} "
                                f"{answer.get_data(as_text=True)[:200]}")

        run()
    assert not failures, "\n".join(failures)
