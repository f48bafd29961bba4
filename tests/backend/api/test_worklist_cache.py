"""A site's worklist is derived once and served again until something it reads changes
(backend/services/worklist_cache.py; stamps by triggers, migration 0008_worklist_versions).

Every writer is covered, the API and direct SQL alike: a nurse must never act on a list that no longer
holds (an alert already acknowledged, a visit already recorded, a patient already off study).
"""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from backend.extensions import db as _db
from backend.models import PatientOutcome, TumourAssessment
from backend.services import worklists
from tests.backend.api.test_alerts import submit
from tests.factories import PatientFactory, SiteFactory, UserFactory, staff_for
from tests.factories_pfs import dose_event
from tests.factories_symptoms import patient_with_account

DAY = "2025-04-10"


@pytest.fixture()
def derivations(monkeypatch):
    """How many times the worklist was derived (not served again)."""
    made = []
    derive = worklists.worklist_rows

    def counted(site, day):
        made.append((site.code, day))
        return derive(site, day)

    monkeypatch.setattr(worklists, "worklist_rows", counted)
    return made


def worklist(client, auth, user, code="SH01", day=DAY):
    answer = client.get(f"/api/v1/sites/{code}/worklist?date={day}", headers=auth.headers(user))
    assert answer.status_code == 200, answer.get_json()
    return [(r["kind"], r["subject_id"]) for r in answer.get_json()]


@pytest.fixture()
def overdue(site):
    """A patient whose C2 dose visit (window closed 2025-03-27) was not recorded."""
    patient = PatientFactory(site=site, subject_id="P-LATE", first_dose_date=date(2025, 3, 3))
    _db.session.add(TumourAssessment(patient_id=patient.id, date=date(2025, 2, 28), baseline=True))
    _db.session.commit()
    return patient, dose_event(patient, 2, date(2025, 3, 24))


def test_asked_again_with_nothing_changed_the_worklist_is_not_derived_again(client, auth, nurse, overdue,
                                                                             derivations):
    first = worklist(client, auth, nurse)
    assert worklist(client, auth, nurse) == first == [("visit_overdue", "P-LATE")]
    coordinator = staff_for(overdue[0].site)["coordinator"]
    assert worklist(client, auth, coordinator) == first  # the same list whoever in scope asks
    assert len(derivations) == 1


def test_another_day_is_another_worklist(client, auth, nurse, overdue, derivations):
    worklist(client, auth, nurse)
    assert worklist(client, auth, nurse, day="2025-03-20") == [("visit_due", "P-LATE")]  # C2 on 03-24
    assert len(derivations) == 2


def test_a_visit_recorded_through_the_api_leaves_the_list_at_once(client, auth, nurse, overdue):
    patient, visit = overdue

    def about():
        answer = client.get(f"/api/v1/sites/SH01/worklist?date={DAY}", headers=auth.headers(nurse))
        return {r["event_id"] for r in answer.get_json()}

    assert about() == {str(visit.id)}
    answer = client.patch(f"/api/v1/patients/{patient.id}/events/{visit.id}", headers=auth.headers(nurse),
                          json={"status": "completed", "actual_date": "2025-03-25"})
    assert answer.status_code == 200, answer.get_json()
    assert str(visit.id) not in about()


def _direct(sql: str, **params) -> None:
    """A change made in SQL by hand, audited as the database requires of every writer."""
    _db.session.execute(sa.text(sql), params)
    _db.session.execute(sa.text("INSERT INTO audit_records (at, role, action, entity, entity_id, changes, reason) "
                                "VALUES (now(), 'dba', 'update', 'patients', :id, '{}', 'data correction')"),
                        {"id": str(params["id"])})
    _db.session.commit()


@pytest.mark.parametrize("change", ["off_study", "moved_away", "died"])
def test_a_patient_changed_by_any_writer_is_seen_at_once(client, auth, nurse, overdue, change):
    patient, _ = overdue
    assert worklist(client, auth, nurse) == [("visit_overdue", "P-LATE")]
    if change == "off_study":  # an UPDATE no ORM saw
        _direct("UPDATE patients SET status = 'off_study' WHERE id = :id", id=patient.id)
    elif change == "moved_away":
        other = SiteFactory(code="BJ01", study=patient.study)
        _direct("UPDATE patients SET site_id = :site WHERE id = :id", site=other.id, id=patient.id)
    else:
        _db.session.add(PatientOutcome(patient_id=patient.id, type="death", date=date(2025, 4, 1)))
        patient.status = "off_study"
        _db.session.commit()
    assert worklist(client, auth, nurse) == []


def test_a_new_patient_enrolled_at_the_site_is_listed(client, auth, nurse, overdue):
    worklist(client, auth, nurse)
    PatientFactory(site=overdue[0].site, subject_id="P-NEW", first_dose_date=date(2025, 4, 7))
    assert ("no_baseline", "P-NEW") in worklist(client, auth, nurse)


def test_a_tumour_assessment_recorded_is_seen_at_once(client, auth, nurse, site):
    patient = PatientFactory(site=site, subject_id="P-SCAN", first_dose_date=date(2025, 4, 7))
    assert worklist(client, auth, nurse) == [("no_baseline", "P-SCAN")]
    _db.session.add(TumourAssessment(patient_id=patient.id, date=date(2025, 4, 1), baseline=True))
    _db.session.commit()
    assert worklist(client, auth, nurse) == []


def test_an_alert_raised_and_then_acknowledged_is_seen_at_once(client, auth, db):
    site = SiteFactory(code="SH01")
    patient, user = patient_with_account(site, subject_id="SH01-007")
    nurse = UserFactory(role="nurse", sites=[site])
    today = worklists.site_today(site).isoformat()
    before = worklist(client, auth, nurse, day=today)
    [alert] = submit(client, auth, {"patient": patient, "patient_user": user})["alerts"]
    assert ("symptom_alert", "SH01-007") in worklist(client, auth, nurse, day=today)
    answer = client.post(f"/api/v1/alerts/{alert['id']}/acknowledge", json={"action": "Called the patient"},
                         headers=auth.headers(nurse))
    assert answer.status_code == 200
    assert worklist(client, auth, nurse, day=today) == before


def test_a_study_setting_changed_is_seen_at_once(client, auth, nurse, site, derivations):
    PatientFactory(site=site, subject_id="P-SCAN", first_dose_date=date(2025, 4, 7))
    worklist(client, auth, nurse)
    site.study.assessment_window_days = 5
    _db.session.commit()
    worklist(client, auth, nurse)
    assert len(derivations) == 2
