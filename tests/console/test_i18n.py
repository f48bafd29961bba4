"""Visits, alert rules, patient statuses and reconciliation findings by name in the reader's language:
the console shows every label the planner gives an event (`schedules.calendar_planning`, English as the
API answers it), every symptom-alert rule, every patient status and a coordinator's findings in
Simplified Chinese when that is the reader's language, and in plain English words otherwise."""
from __future__ import annotations

from datetime import timedelta

import pytest
from flask_babel import refresh

from backend.console.i18n import show_alert_rule, show_patient_status, show_visit
from backend.models.patients import PATIENT_STATUSES
from schedules.calendar_planning import plan_calendar
from schedules.regimens import builtin_regimens
from schedules.symptom_alerts import RULES
from tests.backend.api.test_reconciliation import FIRST_DOSE
from tests.console.test_security import HTTPS, sign_in
from tests.factories import PatientFactory, SiteFactory, StudyFactory, UserFactory
from tests.factories_pfs import dose_event
from tests.schedules.factories import inputs


def planned_labels() -> set[str]:
    """Every label the four built-in regimens plan over a year (doses, diary days, scans, surveys)."""
    return {event.label for code in builtin_regimens() for event in plan_calendar(inputs(code, horizon_days=365), {})}


@pytest.fixture()
def chinese_reader(app):
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        yield


@pytest.fixture()
def english_reader(app):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        yield


@pytest.mark.parametrize(("label", "shown"), [
    ("Cycle 1 Day 1", "第 1 周期第 1 天"),
    ("Cycle 12 Day 15", "第 12 周期第 15 天"),
    ("Cycle 3 Day 17 dosing diary", "第 3 周期第 17 天服药日记"),
    ("Tumour assessment 4", "第 4 次肿瘤评估"),
    ("Symptom survey 52", "第 52 次症状问卷"),
    ("Unscheduled visit", "Unscheduled visit"),
])
def test_a_chinese_reader_sees_each_kind_of_visit_by_its_chinese_name(chinese_reader, label, shown):
    assert show_visit(label) == shown


def test_every_label_the_planner_gives_has_a_chinese_name(chinese_reader):
    labels = planned_labels()
    assert {label.split(" ")[0] for label in labels} == {"Cycle", "Tumour", "Symptom"}
    untranslated = {label for label in labels if show_visit(label) == label}
    assert not untranslated


def test_an_english_reader_sees_the_stored_label(english_reader):
    assert all(show_visit(label) == label for label in planned_labels())


def test_every_alert_rule_has_a_chinese_name_and_reads_as_words_in_english(app):
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert [show_alert_rule(rule) for rule in RULES] == ["综合分级", "重度症状", "症状加重"]
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert [show_alert_rule(rule) for rule in RULES] == ["composite grade", "severe symptom", "worsening"]


def test_every_patient_status_has_a_chinese_name_and_reads_as_words_in_english(app):
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert [show_patient_status(status) for status in PATIENT_STATUSES] == ["治疗中", "随访中", "已退出研究"]
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert [show_patient_status(status) for status in PATIENT_STATUSES] == ["on treatment", "in follow-up",
                                                                                 "off study"]


def test_a_chinese_coordinator_reads_the_reconciliation_in_chinese(client, db):
    study = StudyFactory(code="INET-PAC-RWS")
    patient = PatientFactory(site=SiteFactory(study=study), subject_id="P-LATE", first_dose_date=FIRST_DOSE)
    dose_event(patient, 3, FIRST_DOSE + timedelta(days=42))
    sign_in(client, UserFactory(role="coordinator", studies=[study]))
    with client.session_transaction() as session:
        session["lang"] = "zh_Hans_CN"
    refresh()  # the requests share the test's app context, where Flask-Babel keeps the locale it chose

    page = client.get("/console/studies/INET-PAC-RWS", base_url=HTTPS).get_data(as_text=True)

    assert "未记录" in page and "第 3 周期第 1 天 计划于" in page and "逾期" in page
    assert "nothing recorded" not in page
