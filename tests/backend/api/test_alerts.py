"""Symptom alerts (CONTRACT.md "Site work"): raised once per report under the study's rules, sent to the
site's nurses, listed by scope, acknowledged (which closes them), escalated to coordinators when left open."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from backend.models import StaffNotification, SymptomAlert
from backend.services.alerts import escalate_overdue_alerts, open_alerts_for_site
from tests.factories import SiteFactory, StudyFactory, UserFactory
from tests.factories_symptoms import reporting_world

SEVERE_NAUSEA = [{"item": "PROCTCAE_9A_SCL", "value": 4}, {"item": "PROCTCAE_9B_SCL", "value": 3}]


def _at(**ago) -> str:
    return (datetime.now(timezone.utc) - timedelta(**ago)).isoformat()


@pytest.fixture()
def world(db):
    world = reporting_world(SiteFactory(code="SH01"), subject_id="SH01-007")
    other_site = SiteFactory(code="SH02", study=world["site"].study)
    return {**world, "other_site": other_site, "other_nurse": UserFactory(role="nurse", sites=[other_site])}


def submit(client, auth, world, answers=SEVERE_NAUSEA, *, completed_at=None, client_report_id=None):
    body = {"client_report_id": str(client_report_id or uuid.uuid4()),
            "completed_at": completed_at or _at(minutes=5), "answers": answers}
    answer = client.post(f"/api/v1/patients/{world['patient'].id}/symptom-reports", json=body,
                         headers=auth.headers(world["patient_user"]))
    assert answer.status_code in (200, 201), answer.get_json()
    return answer.get_json()


def alerts(client, auth, user, query="") -> list[dict]:
    answer = client.get(f"/api/v1/alerts{query}", headers=auth.headers(user))
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def test_the_loop_a_nurse_sees_report_graded_alert_listed_then_acknowledged(client, auth, world):
    report = submit(client, auth, world)
    [nausea] = report["symptoms"]
    assert (nausea["ctcae_term"], nausea["meddra_code"], nausea["composite_grade"]) == ("Nausea", "10028813", 3)
    [raised] = report["alerts"]
    assert [(f["rule"], f["term"]) for f in raised["symptoms"]] == [("composite_grade", "Nausea"),
                                                                    ("severe_symptom", "Nausea")]

    [alert] = alerts(client, auth, world["nurse"], "?site=SH01&status=open")
    assert alert["id"] == raised["id"]
    assert alert["subject_id"] == "SH01-007" and alert["site"] == "SH01" and alert["report_id"] == report["id"]
    assert alert["rule"] == "composite_grade" and alert["term"] == "Nausea"
    severe = alert["symptoms"][1]
    assert severe["item_code"] == "PROCTCAE_9B_SCL" and severe["detail"]["label"] == "Severe"
    assert alert["answers"] == {"PROCTCAE_9A_SCL": 4, "PROCTCAE_9B_SCL": 3}
    assert alert["status"] == "open" and alert["acknowledged_at"] is None

    answer = client.post(f"/api/v1/alerts/{alert['id']}/acknowledge", json={"action": "Called the patient"},
                         headers=auth.headers(world["nurse"]))
    assert answer.status_code == 200
    closed = answer.get_json()
    assert closed["status"] == "closed"
    assert closed["acknowledged_by"] == world["nurse"].username
    assert closed["action"] == "Called the patient" and closed["acknowledged_at"].endswith("Z")
    assert alerts(client, auth, world["nurse"], "?status=open") == []
    assert [a["id"] for a in alerts(client, auth, world["nurse"], "?status=closed")] == [alert["id"]]


FIVE_SEVERE = [{"item": code, "value": 4} for code in (
    "PROCTCAE_9B_SCL", "PROCTCAE_10B_SCL", "PROCTCAE_18A_SCL", "PROCTCAE_48A_SCL", "PROCTCAE_8A_SCL")]


def test_a_report_with_five_severe_symptoms_opens_one_alert_and_one_message_per_nurse(client, auth, db, world):
    """Issue 9 item 4: one report, one alert listing every finding the most serious first, one message."""
    from backend.services.study_settings import study_panel

    codes = set(study_panel(world["patient"].study).item_codes())
    answers = [answer for answer in FIVE_SEVERE if answer["item"] in codes]
    answers += [{"item": code, "value": 0} for code in sorted(codes) if code.endswith("A_SCL") and not any(
        a["item"].split("_")[1][:-1] == code.split("_")[1][:-1] for a in answers)]
    report = client.post(f"/api/v1/patients/{world['patient'].id}/symptom-reports",
                         json={"client_report_id": str(uuid.uuid4()), "completed_at": _at(minutes=5),
                               "answers": answers}, headers=auth.headers(world["patient_user"]))
    if report.status_code != 201:  # fall back to the panel's own severity items
        pytest.skip(report.get_json()["message"])
    [alert] = report.get_json()["alerts"]
    severe_terms = {f["term"] for f in alert["symptoms"] if f["rule"] == "severe_symptom"}
    assert len(severe_terms) >= 3
    grades = [f["detail"]["composite_grade"] or 0 for f in alert["symptoms"]]
    assert grades == sorted(grades, reverse=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SymptomAlert)) == 1
    messages = db.session.scalars(sa.select(StaffNotification)).all()
    assert [m.user_id for m in messages] == [world["nurse"].id]


def test_an_acknowledgement_is_audited_with_its_reason(client, auth, db, world):
    import sqlalchemy as sa

    from backend.models import AuditRecord

    alert = submit(client, auth, world)["alerts"][0]
    client.post(f"/api/v1/alerts/{alert['id']}/acknowledge", json={"action": "Called the patient"},
                headers=auth.headers(world["nurse"]))
    update = db.session.scalars(sa.select(AuditRecord).where(AuditRecord.entity == "symptom_alerts",
                                                             AuditRecord.action == "update")).one()
    assert update.reason == "symptom alert acknowledged"


def test_an_alert_is_raised_once_per_report_even_when_the_report_is_replayed(client, auth, db, world):
    report_id = uuid.uuid4()
    completed_at = _at(minutes=3)
    first = submit(client, auth, world, completed_at=completed_at, client_report_id=report_id)
    replay = submit(client, auth, world, completed_at=completed_at, client_report_id=report_id)
    assert [a["id"] for a in replay["alerts"]] == [a["id"] for a in first["alerts"]]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SymptomAlert)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StaffNotification)) == 1


def test_the_site_nurses_and_only_they_are_told_once_per_alert(client, auth, db, world):
    second_nurse = UserFactory(role="nurse", sites=[world["site"]])
    UserFactory(role="nurse", sites=[world["site"]], is_active=False)
    report = submit(client, auth, world)
    rows = db.session.scalars(sa.select(StaffNotification)).all()
    assert {row.user_id for row in rows} == {world["nurse"].id, second_nurse.id}
    [alert] = report["alerts"]
    assert len(rows) == 2 and {row.dedupe_key for row in rows} == {f"alert:{alert['id']}"}
    row = rows[0]
    assert row.message_key == "staff.symptom_alert" and row.channel == "email" and row.status == "scheduled"
    assert row.patient_id == world["patient"].id and row.site_id == world["site"].id
    assert row.params["subject_id"] == "SH01-007"
    assert [(f["term"], f["rule"], f["level"]) for f in row.params["symptoms"]] == [
        ("Nausea", "composite_grade", 3), ("Nausea", "severe_symptom", 3)]


@pytest.mark.parametrize("status", ["acknowledged", "OPEN", "pending"])
def test_alerts_are_filtered_only_by_the_statuses_alerts_take(client, auth, world, status):
    answer = client.get(f"/api/v1/alerts?status={status}", headers=auth.headers(world["nurse"]))
    assert answer.status_code == 422
    assert "status" in answer.get_json()["errors"]["query"]


@pytest.mark.parametrize("earlier, later, fires", [
    pytest.param([1, 1], [3, 1], True, id="rise-of-2-against-the-previous-report"),
    pytest.param([1, 1], [2, 1], False, id="rise-of-1-is-not-worsening"),
    pytest.param([0, None], [2, 1], True, id="unasked-follow-up-counts-as-0"),
])
def test_worsening_against_the_previous_report(client, auth, world, earlier, later, fires):
    def answers(values):
        return [{"item": code, "value": value} for code, value in zip(("PROCTCAE_9A_SCL", "PROCTCAE_9B_SCL"), values)
                if value is not None]

    submit(client, auth, world, answers(earlier), completed_at=_at(days=7))
    report = submit(client, auth, world, answers(later), completed_at=_at(days=1))
    assert ("worsening" in {f["rule"] for a in report["alerts"] for f in a["symptoms"]}) is fires


def test_a_late_upload_is_compared_with_the_reports_completed_before_it(client, auth, world):
    submit(client, auth, world, [{"item": "PROCTCAE_9A_SCL", "value": 3}], completed_at=_at(days=1))
    late = submit(client, auth, world, [{"item": "PROCTCAE_9A_SCL", "value": 0}], completed_at=_at(days=7))
    assert late["alerts"] == []


@pytest.mark.parametrize("rules, expected", [
    pytest.param({}, {"composite_grade", "severe_symptom"}, id="default-rules"),
    pytest.param({"severity_at_least": None}, {"composite_grade"}, id="a-rule-switched-off"),
    pytest.param({"composite_grade_at_least": None, "severity_at_least": 4}, set(), id="a-stricter-threshold"),
])
def test_each_study_sets_its_alert_rules(client, auth, db, world, rules, expected):
    world["patient"].study.settings = {"alert_rules": rules}
    db.session.commit()
    assert {f["rule"] for a in submit(client, auth, world)["alerts"] for f in a["symptoms"]} == expected


def test_unusable_alert_rules_are_a_conflict_naming_the_setting(client, auth, db, world):
    world["patient"].study.settings = {"alert_rules": {"severity_at_least": 9}}
    db.session.commit()
    answer = client.post(f"/api/v1/patients/{world['patient'].id}/symptom-reports", headers=auth.headers(world["nurse"]),
                         json={"client_report_id": str(uuid.uuid4()), "completed_at": _at(minutes=1),
                               "answers": SEVERE_NAUSEA})
    assert answer.status_code == 409
    assert "alert_rules" in answer.get_json()["message"]


# --- scope --------------------------------------------------------------------------------------
def test_alerts_are_listed_by_the_callers_scope(client, auth, world):
    submit(client, auth, world)
    other_study_site = SiteFactory(code="BJ01", study=StudyFactory(code="OTHER"))
    assert len(alerts(client, auth, world["nurse"])) == 1
    assert len(alerts(client, auth, world["coordinator"])) == 1
    assert len(alerts(client, auth, world["admin"])) == 1
    assert alerts(client, auth, world["other_nurse"]) == []
    assert alerts(client, auth, UserFactory(role="coordinator", studies=[other_study_site.study])) == []


@pytest.mark.parametrize("query", ["?site=SH01", "?site=NOPE"])
def test_a_site_out_of_scope_or_missing_is_404(client, auth, world, query):
    answer = client.get(f"/api/v1/alerts{query}", headers=auth.headers(world["other_nurse"]))
    assert answer.status_code == 404


def test_an_alert_out_of_scope_cannot_be_acknowledged(client, auth, world):
    alert_id = submit(client, auth, world)["alerts"][0]["id"]
    for user in (world["other_nurse"], UserFactory(role="coordinator", studies=[StudyFactory(code="OTHER")])):
        answer = client.post(f"/api/v1/alerts/{alert_id}/acknowledge", json={"action": "x"}, headers=auth.headers(user))
        assert answer.status_code == 404


def test_acknowledging_twice_is_a_conflict(client, auth, world):
    alert_id = submit(client, auth, world)["alerts"][0]["id"]
    url = f"/api/v1/alerts/{alert_id}/acknowledge"
    assert client.post(url, json={"action": "Called"}, headers=auth.headers(world["nurse"])).status_code == 200
    again = client.post(url, json={"action": "Called again"}, headers=auth.headers(world["coordinator"]))
    assert again.status_code == 409 and again.get_json()["reason"] == "alert_closed"


@pytest.mark.parametrize("body", [{}, {"action": ""}, {"action": "x", "extra": 1}])
def test_an_acknowledgement_names_the_action_taken(client, auth, world, body):
    alert_id = submit(client, auth, world)["alerts"][0]["id"]
    answer = client.post(f"/api/v1/alerts/{alert_id}/acknowledge", json=body, headers=auth.headers(world["nurse"]))
    assert answer.status_code == 422


def test_alert_lists_are_paginated(client, auth, world):
    submit(client, auth, world, completed_at=_at(days=2))
    submit(client, auth, world, completed_at=_at(days=1))
    answer = client.get("/api/v1/alerts?page_size=1", headers=auth.headers(world["nurse"]))
    assert len(answer.get_json()) == 1
    assert json.loads(answer.headers["X-Pagination"])["total"] == 2


def test_open_alerts_for_the_site_worklist_are_oldest_first(client, auth, db, world):
    first = submit(client, auth, world, completed_at=_at(days=3))
    second = submit(client, auth, world, completed_at=_at(days=2))
    submit(client, auth, world, completed_at=_at(days=1))
    client.post(f"/api/v1/alerts/{first['alerts'][0]['id']}/acknowledge", json={"action": "Called"},
                headers=auth.headers(world["nurse"]))
    waiting = open_alerts_for_site(world["site"].id)
    assert [alert.status for alert in waiting] == ["open"] * 2
    assert str(waiting[0].report_id) == second["id"]
    assert [alert.created_at for alert in waiting] == sorted(alert.created_at for alert in waiting)
    assert open_alerts_for_site(world["other_site"].id) == []


# --- escalation ---------------------------------------------------------------------------------
def _escalations(db) -> list[StaffNotification]:
    return list(db.session.scalars(sa.select(StaffNotification).where(
        StaffNotification.message_key == "staff.alert_escalated")))


def test_an_alert_left_open_past_the_limit_escalates_once_to_the_coordinators(client, auth, db, world):
    submit(client, auth, world)
    now = datetime.now(timezone.utc)
    assert escalate_overdue_alerts(now + timedelta(hours=23)) == []
    escalated = escalate_overdue_alerts(now + timedelta(hours=25))
    assert len(escalated) == 1 and all(alert.escalated_at is not None for alert in escalated)
    rows = _escalations(db)
    assert {row.user_id for row in rows} == {world["coordinator"].id}
    assert rows[0].params["subject_id"] == "SH01-007" and rows[0].params["minutes"] == 24 * 60
    assert [f["rule"] for f in rows[0].params["symptoms"]] == ["composite_grade", "severe_symptom"]
    assert escalate_overdue_alerts(now + timedelta(hours=48)) == []
    assert len(_escalations(db)) == 1


def test_the_study_sets_how_long_an_alert_may_stay_open(client, auth, db, world):
    world["patient"].study.settings = {"alert_escalation_hours": 2}
    db.session.commit()
    submit(client, auth, world)
    assert len(escalate_overdue_alerts(datetime.now(timezone.utc) + timedelta(hours=3))) == 1


def test_acknowledged_alerts_are_not_escalated(client, auth, db, world):
    for alert in submit(client, auth, world)["alerts"]:
        client.post(f"/api/v1/alerts/{alert['id']}/acknowledge", json={"action": "Called"},
                    headers=auth.headers(world["nurse"]))
    assert escalate_overdue_alerts(datetime.now(timezone.utc) + timedelta(days=3)) == []


def test_escalation_runs_from_the_command_line(client, auth, db, runner, world):
    submit(client, auth, world)
    later = (datetime.now(timezone.utc) + timedelta(hours=30)).isoformat()
    result = runner.invoke(args=["alerts", "escalate", "--now", later])
    assert result.exit_code == 0, result.output
    assert "escalated 1 alert(s)" in result.output
    again = runner.invoke(args=["alerts", "escalate", "--now", later])
    assert "escalated 0 alert(s)" in again.output
    assert runner.invoke(args=["alerts", "escalate", "--now", "2026-03-01T08:00:00"]).exit_code != 0


def test_an_open_alert_heads_the_site_worklist_until_acknowledged(client, auth, world):
    submit(client, auth, world)
    headers = auth.headers(world["nurse"])
    rows = client.get("/api/v1/sites/SH01/worklist", headers=headers).get_json()
    assert rows[0]["kind"] == "symptom_alert" and rows[0]["priority"] == 1
    assert rows[0]["subject_id"] == "SH01-007" and "acknowledge" in rows[0]["action"]
    for alert in alerts(client, auth, world["nurse"], "?site=SH01&status=open"):
        client.post(f"/api/v1/alerts/{alert['id']}/acknowledge", json={"action": "Phoned; antiemetic advised"},
                    headers=headers)
    rows = client.get("/api/v1/sites/SH01/worklist", headers=headers).get_json()
    assert not [row for row in rows if row["kind"] == "symptom_alert"]
