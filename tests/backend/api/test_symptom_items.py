"""The PRO-CTCAE item library the app asks symptoms from (CONTRACT.md "Symptoms", `GET /symptoms/items`):
the contract's shape in English, NCI's official translations per locale with English where there is
none (and saying so), the study's panel, and bad queries named."""
from __future__ import annotations

import json

import pytest

from schedules import proctcae
from tests.factories import SiteFactory
from tests.factories_symptoms import reporting_world


@pytest.fixture()
def world(db):
    return reporting_world(SiteFactory(code="SH01", timezone="Asia/Shanghai"))


def test_the_item_library_has_the_contract_shape_in_english(client, auth, world):
    answer = client.get("/api/v1/symptoms/items", headers=auth.headers(world["nurse"]))
    assert answer.status_code == 200
    assert answer.headers["X-Locale-Fallback"] == "false"
    items = answer.get_json()
    assert len(items) == 124
    nausea = next(item for item in items if item["code"] == "PROCTCAE_9A_SCL")
    assert {"code", "term", "attribute", "question", "options"} <= set(nausea)
    assert nausea["attribute"] == "frequency"
    assert nausea["question"].startswith("In the last 7 days")
    assert nausea["options"][0] == {"value": 0, "label": "Never"}
    assert nausea["options"][4] == {"value": 4, "label": "Almost constantly"}


def test_without_an_official_translation_the_library_falls_back_to_english_and_says_so(client, auth, world):
    answer = client.get("/api/v1/symptoms/items?locale=zh-CN", headers=auth.headers(world["patient_user"]))
    assert answer.headers["X-Locale-Fallback"] == "true"
    assert answer.get_json()[0]["question"].startswith("In the last 7 days")
    envelope = client.get("/api/v1/symptoms/items?locale=zh-CN&envelope=1",
                          headers=auth.headers(world["patient_user"])).get_json()
    assert envelope["locale"] == "zh-CN"
    assert envelope["locale_fallback"] is True
    assert len(envelope["items"]) == 124 and envelope["items"][0]["locale"] == "en"


def _placeholder(code: str) -> dict:
    """Placeholder texts, not a translation: translations come only from NCI (PRO-CTCAE terms of use)."""
    item = proctcae.items_by_code()[code]
    return {"question": f"<{code} question>", "options": [f"<{code} option {i}>" for i in range(len(item.options))]}


@pytest.fixture()
def translations_dir(app, tmp_path):
    app.config["PRO_CTCAE_TRANSLATIONS_DIR"] = str(tmp_path)
    yield tmp_path
    app.config["PRO_CTCAE_TRANSLATIONS_DIR"] = ""


def test_an_official_translation_file_is_served_for_its_locale(client, auth, db, world, translations_dir):
    (translations_dir / "zh-CN.json").write_text(json.dumps({"PROCTCAE_24A_IND": _placeholder("PROCTCAE_24A_IND")}),
                                                 encoding="utf-8")
    world["patient"].study.settings = {"symptom_panel": [24]}
    world["patient"].locale = "zh-CN"
    db.session.commit()
    headers = auth.headers(world["patient_user"])
    # The patient's own locale is the default; their study panel here is one fully translated item.
    answer = client.get("/api/v1/symptoms/items?panel=study", headers=headers)
    assert answer.headers["X-Locale-Fallback"] == "false"
    [item] = answer.get_json()
    assert item["question"] == "<PROCTCAE_24A_IND question>"
    assert item["options"] == [{"value": 1, "label": "<PROCTCAE_24A_IND option 0>"},
                               {"value": 0, "label": "<PROCTCAE_24A_IND option 1>"}]
    assert item["locale"] == "zh-CN"
    # The whole library: untranslated items are English, and the answer says so.
    everything = client.get("/api/v1/symptoms/items?locale=zh_cn", headers=headers)
    assert everything.headers["X-Locale-Fallback"] == "true"


def test_a_broken_translation_file_is_answered_in_english_not_with_an_error(client, auth, world, translations_dir):
    (translations_dir / "zh-CN.json").write_text("{not json", encoding="utf-8")
    answer = client.get("/api/v1/symptoms/items?locale=zh-CN", headers=auth.headers(world["nurse"]))
    assert answer.status_code == 200
    assert answer.headers["X-Locale-Fallback"] == "true"


def test_panel_study_gives_a_patient_their_study_panel(client, auth, world):
    items = client.get("/api/v1/symptoms/items?panel=study", headers=auth.headers(world["patient_user"])).get_json()
    assert [item["code"] for item in items] == list(proctcae.DEFAULT_HER2_PANEL.item_codes())


@pytest.mark.parametrize("query, field", [
    pytest.param("panel=study", "panel", id="panel-study-is-for-patients"),
    pytest.param("locale=../../etc/passwd", "locale", id="locale-must-be-a-locale-tag"),
    pytest.param("panel=everything", "panel", id="panel-is-all-or-study"),
])
def test_bad_item_library_queries_are_422_naming_the_parameter(client, auth, world, query, field):
    answer = client.get(f"/api/v1/symptoms/items?{query}", headers=auth.headers(world["nurse"]))
    assert answer.status_code == 422
    assert field in answer.get_json()["errors"]["query"]
