"""The daily PFS early-warning scan (`flask pfs scan`): nurses hear of a patient at risk once per
deadline, and again once when the deadline is 7 days away (backend/services/pfs.py::scan_pfs_risk).

First dose 2025-01-06, scans every 42 ± 7 days: visit 2's window closes 2025-04-07 and visit 3's on
2025-05-19. The sites are in Asia/Shanghai (UTC+8).
"""
from __future__ import annotations

import functools
import json
from datetime import date, datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from backend.models import StaffNotification
from backend.services.pfs import AT_RISK_MESSAGE, DEADLINE_NEAR_MESSAGE, scan_pfs_risk
from tests.factories import PatientFactory, SiteFactory, UserFactory
from tests.factories_pfs import scanned

FIRST_DOSE = date(2025, 1, 6)
SHANGHAI = ZoneInfo("Asia/Shanghai")


scans = functools.partial(scanned, baseline=date(2025, 1, 3))


@pytest.fixture()
def site(db):
    site = SiteFactory()
    UserFactory(role="nurse", sites=[site], username="nurse-a")
    UserFactory(role="nurse", sites=[site], username="nurse-b")
    UserFactory(role="coordinator", studies=[site.study])
    UserFactory(role="nurse", sites=[SiteFactory(study=site.study)], username="nurse-elsewhere")
    return site


def outbox(db):
    rows = db.session.scalars(sa.select(StaffNotification).order_by(StaffNotification.dedupe_key))
    return [(n.message_key, n.dedupe_key, n.params["deadline"]) for n in rows]


def at_site(year, month, day, hour=0, minute=30):
    """The UTC instant that is this wall-clock time in Shanghai."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI).astimezone(timezone.utc)


def test_a_missed_visit_warns_every_nurse_of_the_site_once(db, site):
    patient = scans(PatientFactory(site=site, first_dose_date=FIRST_DOSE), (date(2025, 2, 17), "SD"))

    # 00:30 on 8 April in Shanghai is still 7 April in UTC: the site's day decides.
    summary = scan_pfs_risk(at_site(2025, 4, 8))

    assert (summary.patients, summary.at_risk, summary.queued) == (1, 1, 2)
    key = f"pfs-at-risk:{patient.id}:2025-05-19"
    assert outbox(db) == [(AT_RISK_MESSAGE, key, "2025-05-19")] * 2
    users = db.session.scalars(sa.select(StaffNotification.user_id)).all()
    assert len(set(users)) == 2
    notice = db.session.scalars(sa.select(StaffNotification)).first()
    assert notice.patient_id == patient.id and notice.params["subject_id"] == patient.subject_id
    assert scan_pfs_risk(at_site(2025, 4, 9)).queued == 0  # the next day: nothing new


def test_the_last_day_of_the_window_is_not_yet_at_risk(db, site):
    scans(PatientFactory(site=site, first_dose_date=FIRST_DOSE), (date(2025, 2, 17), "SD"))
    assert scan_pfs_risk(at_site(2025, 4, 7, 23, 59)).at_risk == 0
    assert outbox(db) == []


def test_seven_days_before_the_deadline_the_nurses_are_reminded(db, site):
    patient = scans(PatientFactory(site=site, first_dose_date=FIRST_DOSE), (date(2025, 2, 17), "SD"))
    scan_pfs_risk(at_site(2025, 4, 8))
    assert scan_pfs_risk(at_site(2025, 5, 11)).queued == 0  # 8 days before
    assert scan_pfs_risk(at_site(2025, 5, 12)).queued == 2  # 7 days before
    assert scan_pfs_risk(at_site(2025, 5, 13)).queued == 0
    assert (DEADLINE_NEAR_MESSAGE, f"pfs-deadline-near:{patient.id}:2025-05-19", "2025-05-19") in outbox(db)


def test_with_no_deadline_left_the_scan_is_due_now_once_per_streak(db, site):
    patient = scans(PatientFactory(site=site, first_dose_date=FIRST_DOSE), (date(2025, 2, 17), "SD"))
    scan_pfs_risk(at_site(2025, 5, 20))  # visits 2 and 3 missed
    assert outbox(db) == [(AT_RISK_MESSAGE, f"pfs-at-risk:{patient.id}:overdue:2025-02-17", "2025-05-20")] * 2
    assert scan_pfs_risk(at_site(2025, 6, 1)).queued == 0


@pytest.mark.parametrize("history, status", [
    pytest.param([(date(2025, 2, 17), "SD"), (date(2025, 3, 31), "SD")], "on_treatment", id="scans on time"),
    pytest.param([(date(2025, 2, 17), "SD")], "off_study", id="off study patients are not scanned"),
    pytest.param([(date(2025, 2, 17), "SD"), (date(2025, 3, 31), "PD")], "follow_up", id="after progression"),
])
def test_patients_not_at_risk_raise_nothing(db, site, history, status):
    scans(PatientFactory(site=site, first_dose_date=FIRST_DOSE, status=status), *history)
    assert scan_pfs_risk(at_site(2025, 4, 20)).queued == 0


def test_the_command_runs_the_scan(runner, site):
    scans(PatientFactory(site=site, first_dose_date=FIRST_DOSE), (date(2025, 2, 17), "SD"))
    result = runner.invoke(args=["pfs", "scan", "--now", "2025-04-08T06:00:00Z"])
    assert result.exit_code == 0, result.output
    assert "1 on-study patients, 1 at risk, 2 messages queued" in result.output
    assert runner.invoke(args=["pfs", "scan", "--now", "2025-04-08"]).exit_code != 0  # no offset


CATALOG = Path(__file__).resolve().parents[2] / "notifications" / "messages" / "en.json"


@pytest.mark.skipif(not CATALOG.exists(), reason="the message catalogs arrive with the notifications branch")
def test_the_message_keys_exist_in_the_catalog():
    messages = json.loads(CATALOG.read_text(encoding="utf-8"))["messages"]
    assert {AT_RISK_MESSAGE, DEADLINE_NEAR_MESSAGE} <= set(messages)
