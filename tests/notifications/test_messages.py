import datetime as dt
import json
import re
import string
from pathlib import Path

import pytest

from notifications.messages import (
    MissingMessageParameter,
    RenderedMessage,
    UnknownMessageKey,
    format_local_date,
    is_patient_facing,
    render,
    resolve_locale,
)

CATALOG_DIR = Path(__file__).resolve().parents[2] / "notifications" / "messages"
LOCALES = ["en", "zh-CN"]

REQUIRED_KEYS = {
    "reminder.dose.evening_before",
    "reminder.dose.morning_of",
    "reminder.assessment.days_before",
    "reminder.assessment.day_before",
    "reminder.survey.open",
    "reminder.survey.nudge",
    "alert.symptom.patient_contact_team",
    "staff.symptom_alert",
    "staff.pfs_at_risk",
    "staff.pfs_deadline_near",
    "staff.survey_call_patient",
    "staff.alert_escalated",
}

# Lock screens are public: nothing that reveals diagnosis, treatment or study participation.
DENY_LIST = [
    "inetetamab", "pertuzumab", "paclitaxel", "docetaxel", "vinorelbine", "pyrotinib",
    "伊尼妥单抗", "帕妥珠单抗", "紫杉醇", "多西他赛", "长春瑞滨", "吡咯替尼",
    "cancer", "breast", "tumour", "tumor", "HER2", "trial", "study",
    "癌", "肿瘤", "乳腺", "试验", "研究",
]  # fmt: skip


def catalog(locale: str) -> dict:
    """Read straight from disk, so these checks don't depend on the code under test."""
    return json.loads((CATALOG_DIR / f"{locale}.json").read_text(encoding="utf-8"))["messages"]


def placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


def patient_entries():
    for locale in LOCALES:
        for key, entry in catalog(locale).items():
            if not key.startswith("staff."):
                for part in ("title", "body"):
                    yield pytest.param(entry[part], id=f"{locale}:{key}:{part}")


# ------------------------------------------------------------------------------- catalog checks


@pytest.mark.parametrize("locale", LOCALES)
def test_catalog_has_every_required_key(locale):
    assert REQUIRED_KEYS <= set(catalog(locale))


def test_catalogs_have_the_same_keys():
    assert set(catalog("en")) == set(catalog("zh-CN"))


@pytest.mark.parametrize("key", sorted(REQUIRED_KEYS))
def test_catalogs_have_the_same_placeholders(key):
    en, zh = catalog("en")[key], catalog("zh-CN")[key]
    for part in ("title", "body"):
        assert placeholders(en[part]) == placeholders(zh[part]), part


@pytest.mark.parametrize("locale", LOCALES)
def test_placeholders_are_plain_names(locale):
    # "{date.year}" or "{0}" would reach into objects / positional args; catalogs only name values.
    for key, entry in catalog(locale).items():
        for part in ("title", "body"):
            for name in placeholders(entry[part]):
                assert name.isidentifier(), f"{locale}:{key}:{part} has placeholder {{{name}}}"


@pytest.mark.parametrize("text", list(patient_entries()))
def test_patient_facing_text_reveals_no_diagnosis_drug_or_study(text):
    found = [word for word in DENY_LIST if re.search(re.escape(word), text, re.IGNORECASE)]
    assert found == []


def test_deny_list_scan_would_catch_a_leak():
    assert any(word.lower() in "Your HER2 infusion visit".lower() for word in DENY_LIST)


def test_staff_keys_are_the_only_non_patient_ones():
    assert not is_patient_facing("staff.symptom_alert")
    assert is_patient_facing("reminder.dose.morning_of")
    assert is_patient_facing("alert.symptom.patient_contact_team")


# -------------------------------------------------------------------------------------- render

TUE_3_MAR = dt.date(2026, 3, 3)


@pytest.mark.parametrize(
    "value, locale, expected",
    [
        pytest.param(TUE_3_MAR, "en", "Tue 3 Mar", id="en"),
        pytest.param(TUE_3_MAR, "zh-CN", "3月3日 周二", id="zh-CN"),
        pytest.param(dt.date(2026, 12, 27), "en", "Sun 27 Dec", id="en sunday december"),
        pytest.param(dt.date(2026, 12, 27), "zh-CN", "12月27日 周日", id="zh-CN sunday december"),
        pytest.param(dt.date(2026, 1, 5), "fr", "Mon 5 Jan", id="unknown locale falls back to en"),
    ],
)
def test_format_local_date(value, locale, expected):
    assert format_local_date(value, locale) == expected


def test_format_local_date_refuses_datetimes():
    with pytest.raises(TypeError):
        format_local_date(dt.datetime(2026, 3, 3, 7, 30, tzinfo=dt.timezone.utc), "en")


def test_render_english_reminder():
    assert render("reminder.dose.evening_before", "en", date=TUE_3_MAR, time=dt.time(7, 30)) == RenderedMessage(
        title="Clinic visit tomorrow",
        body="You have a clinic visit tomorrow (Tue 3 Mar) at 07:30. Open Cadence for details.",
    )


def test_render_chinese_reminder():
    rendered = render("reminder.assessment.days_before", "zh-CN", days=3, date=TUE_3_MAR)
    assert rendered.body == "您在 3 天后（3月3日 周二）有一次复查预约。详情请打开 Cadence 查看。"


FINDINGS = [
    {"term": "Nausea", "rule": "composite_grade", "level": 3, "since": "previous"},
    {"term": "Nausea", "rule": "severe_symptom", "level": 3, "since": "previous"},
    {"term": "Fatigue", "rule": "worsening", "level": 2, "since": "first"},
]


def test_render_staff_alert_names_every_finding_with_its_rule_in_words():
    rendered = render("staff.symptom_alert", "en", subject_id="S-0042", symptoms=FINDINGS)
    assert rendered.title == "Symptom alert: subject S-0042"
    assert rendered.body == ("Subject S-0042 reported: Nausea (composite grade 3 of 3); Nausea (severe: grade 3 of 4); "
                             "Fatigue (worse by 2 points since the first report). Please review the report in Cadence "
                             "and contact the patient.")
    assert not any(slug in rendered.body for slug in ("composite_grade", "severe_symptom", "worsening"))


def test_render_staff_alert_in_chinese_has_no_english_rule_words():
    rendered = render("staff.symptom_alert", "zh-CN", subject_id="S-0042", symptoms=FINDINGS[1:2])
    assert rendered.body == "受试者 S-0042 报告的症状触发了警报：Nausea（重度：3 级，最高 4 级）。请在 Cadence 中查看报告并联系患者。"
    assert not any(word in rendered.body for word in ("severe", "grade", "rule"))


@pytest.mark.parametrize(
    "locale, resolved",
    [
        ("zh-CN", "zh-CN"),
        ("zh_CN", "zh-CN"),
        ("zh-cn", "zh-CN"),
        ("zh-Hans", "zh-CN"),
        ("zh", "zh-CN"),
        ("en-GB", "en"),
        ("fr-FR", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_resolve_locale(locale, resolved):
    assert resolve_locale(locale) == resolved


def test_unknown_locale_renders_english():
    assert render("reminder.dose.morning_of", "de-DE", time=dt.time(8, 0)).title == "Clinic visit today"


def test_unknown_key_is_a_clear_error():
    with pytest.raises(UnknownMessageKey, match="reminder.dose.typo"):
        render("reminder.dose.typo", "en")


def test_missing_parameter_names_key_and_parameter():
    with pytest.raises(MissingMessageParameter, match=r"reminder\.assessment\.days_before.*'days'"):
        render("reminder.assessment.days_before", "zh-CN", date=TUE_3_MAR)


def test_datetime_parameters_are_refused():
    # Which wall-clock date an instant falls on depends on the patient's zone; the caller converts.
    with pytest.raises(TypeError):
        render("reminder.assessment.day_before", "en", date=dt.datetime(2026, 3, 2, 23, 0, tzinfo=dt.timezone.utc))


def test_extra_parameters_are_ignored():
    assert render("alert.symptom.patient_contact_team", "en", date=TUE_3_MAR).title == "Please contact your care team"


@pytest.mark.parametrize("key", sorted(REQUIRED_KEYS))
@pytest.mark.parametrize("locale", LOCALES)
def test_every_message_renders_with_its_documented_params(key, locale):
    params = {
        "date": TUE_3_MAR,
        "time": dt.time(7, 30),
        "days": 3,
        "subject_id": "S-0042",
        "symptoms": FINDINGS,
        "deadline": TUE_3_MAR,
        "minutes": 60,
    }
    rendered = render(key, locale, **params)
    assert rendered.title and rendered.body
    assert "{" not in rendered.title + rendered.body
