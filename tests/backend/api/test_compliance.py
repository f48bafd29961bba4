"""GET /studies/{code}/compliance: per-site counts of scans, doses and surveys
(rules in schedules/compliance.py and backend/services/compliance.py).

Evaluated on 2025-05-25; first dose 2025-01-06, scans every 42 ± 7 days (visit 1 02-10..02-24, visit 2
03-24..04-07, visit 3 05-05..05-19, visit 4 opens 06-16); doses every 21 days ± 3; surveys weekly,
open 3 days.
"""
from __future__ import annotations

import functools
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from backend.extensions import db as _db
from backend.models import Patient
from tests.factories import PatientFactory, SiteFactory, StudyFactory, UserFactory
from tests.factories_pfs import dose_event, scanned, survey_event

FIRST_DOSE = date(2025, 1, 6)
AS_OF = "2025-05-25"


scans = functools.partial(scanned, baseline=date(2025, 1, 3))


@pytest.fixture()
def study(db):
    study = StudyFactory(code="INET-1L")
    site_a, site_b = SiteFactory(code="A01", study=study), SiteFactory(code="B01", study=study)
    # A01: a scan on time, one after its window (late), then visit 3 missed.
    p1 = scans(PatientFactory(site=site_a, first_dose_date=FIRST_DOSE),
               (date(2025, 2, 17), "SD"), (date(2025, 4, 9), "SD"))
    # A01: an NE-only visit 1, a scan before visit 2's window (early), visit 3 missed.
    scans(PatientFactory(site=site_a, first_dose_date=FIRST_DOSE), (date(2025, 2, 17), "NE"), (date(2025, 3, 20), "SD"))
    # B01: nothing recorded, visits 1 to 3 missed.
    scans(PatientFactory(site=site_b, first_dose_date=FIRST_DOSE), baseline=None)

    dose_event(p1, 1, FIRST_DOSE, status="completed", actual_date=FIRST_DOSE)
    dose_event(p1, 2, date(2025, 1, 27), status="completed", actual_date=date(2025, 2, 1))  # 5 days late
    dose_event(p1, 3, date(2025, 2, 21), status="held")
    dose_event(p1, 4, date(2025, 3, 14), status="missed")
    dose_event(p1, 5, date(2025, 4, 4))  # still planned: not counted
    dose_event(p1, 6, date(2025, 4, 25), status="completed", actual_date=date(2025, 4, 23))  # inside ± 3

    survey_event(p1, 1, status="completed", actual_date=FIRST_DOSE)
    survey_event(p1, 2, status="completed", actual_date=FIRST_DOSE + timedelta(days=12))  # after its window
    survey_event(p1, 3)  # never done
    survey_event(p1, 4, status="completed", actual_date=FIRST_DOSE + timedelta(days=22))
    survey_event(p1, 21)  # 2025-05-26: not due yet
    return study


def compliance(client, auth, user, code="INET-1L"):
    answer = client.get(f"/api/v1/studies/{code}/compliance?as_of={AS_OF}", headers=auth.headers(user))
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


SITE_A = {
    "site": "A01", "as_of": AS_OF, "patients": 2,
    "assessments": {"done": 1, "late": 1, "early": 1, "missed": 2, "ne_only": 1, "open": 0, "upcoming": 2, "due": 6},
    "dosing": {"on_time": 2, "delayed": 1, "early": 0, "held": 1, "missed": 1},
    "surveys": {"completed": 2, "expected": 4, "rate": 0.5},
}
SITE_B = {
    "site": "B01", "as_of": AS_OF, "patients": 1,
    "assessments": {"done": 0, "late": 0, "early": 0, "missed": 3, "ne_only": 0, "open": 0, "upcoming": 1, "due": 3},
    "dosing": {"on_time": 0, "delayed": 0, "early": 0, "held": 0, "missed": 0},
    "surveys": {"completed": 0, "expected": 0, "rate": None},
}


def test_a_coordinator_sees_every_site_and_the_total(client, auth, study):
    body = compliance(client, auth, UserFactory(role="coordinator", studies=[study]))
    assert body["sites"] == [SITE_A, SITE_B]
    assert body["total"]["patients"] == 3
    assert body["total"]["assessments"] == {"done": 1, "late": 1, "early": 1, "missed": 5, "ne_only": 1, "open": 0,
                                            "upcoming": 3, "due": 9}
    assert body["total"]["surveys"] == {"completed": 2, "expected": 4, "rate": 0.5}


def test_a_nurse_sees_only_the_rows_of_their_sites(client, auth, study):
    site_b = next(site for site in study.sites if site.code == "B01")
    body = compliance(client, auth, UserFactory(role="nurse", sites=[site_b]))
    assert body["sites"] == [SITE_B]
    assert body["total"]["patients"] == 1


def test_scan_counts_agree_with_the_pfs_endpoint(client, auth, study):
    admin = UserFactory(role="admin")
    body = compliance(client, auth, admin)
    statuses = []
    for patient in _db.session.scalars(sa.select(Patient).where(Patient.study_id == study.id)):
        pfs = client.get(f"/api/v1/patients/{patient.id}/pfs?as_of={AS_OF}", headers=auth.headers(admin)).get_json()
        statuses.extend(v["status"] for v in pfs["visits"])
    assert body["total"]["assessments"]["missed"] == statuses.count("missed")
    assert body["total"]["assessments"]["due"] == len(statuses) - statuses.count("upcoming") - statuses.count("open")


def test_a_study_of_someone_else_is_404(client, auth, study):
    other = UserFactory(role="coordinator", studies=[StudyFactory(code="OTHER")])
    assert client.get("/api/v1/studies/INET-1L/compliance", headers=auth.headers(other)).status_code == 404
