"""PRO-CTCAE in other languages: only NCI's official translations, item by item, with English where an
item has none; malformed translation files are refused. The texts below are placeholders, not
translations (PRO-CTCAE terms of use: translations come only from NCI).
"""
import json

import pytest

from schedules import proctcae, proctcae_translations
from schedules.proctcae_translations import TranslationError


def _placeholder(code):
    item = proctcae.items_by_code()[code]
    return {"question": f"<{code} question>", "options": [f"<{code} option {i}>" for i in range(len(item.options))]}


def test_english_ships_and_never_falls_back():
    library = proctcae_translations.localised_items("en-GB")
    assert library.locale_fallback is False
    assert len(library.items) == 124
    assert library.items[0].question == proctcae.items()[0].question


def test_a_locale_without_a_translation_falls_back_to_english():
    library = proctcae_translations.localised_items("zh-CN", codes=["PROCTCAE_9A_SCL"])
    assert library.locale_fallback is True
    assert library.fallback_codes == ("PROCTCAE_9A_SCL",)
    assert library.items[0].locale == "en"
    assert library.items[0].question == proctcae.items_by_code()["PROCTCAE_9A_SCL"].question


def test_a_translation_file_is_used_per_item_with_english_fallback(tmp_path):
    path = tmp_path / "proctcae.zh-CN.json"
    path.write_text(json.dumps({"PROCTCAE_9A_SCL": _placeholder("PROCTCAE_9A_SCL")}), encoding="utf-8")
    library = proctcae_translations.localised_items(
        "zh-CN", proctcae_translations.load_translations(path), codes=["PROCTCAE_9A_SCL", "PROCTCAE_9B_SCL"]
    )
    translated, english = library.items
    assert translated.locale == "zh-CN"
    assert translated.question == "<PROCTCAE_9A_SCL question>"
    assert translated.options[4] == (4, "<PROCTCAE_9A_SCL option 4>")
    assert english.locale == "en" and english.question.startswith("In the last 7 days")
    assert library.locale_fallback is True
    assert library.fallback_codes == ("PROCTCAE_9B_SCL",)


def test_a_complete_translation_sets_no_fallback():
    library = proctcae_translations.localised_items("zh-CN", {"PROCTCAE_24A_IND": _placeholder("PROCTCAE_24A_IND")},
                                       codes=["PROCTCAE_24A_IND"])
    assert library.locale_fallback is False
    assert [value for value, _ in library.items[0].options] == [1, 0]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"PROCTCAE_99A_SCL": {"question": "q", "options": ["a"]}}, id="unknown-item"),
        pytest.param({"PROCTCAE_9A_SCL": {"question": "q", "options": ["a", "b"]}}, id="wrong-number-of-options"),
        pytest.param({"PROCTCAE_9A_SCL": {"options": ["a"] * 5}}, id="missing-question"),
        pytest.param({"PROCTCAE_9A_SCL": "q"}, id="entry-not-an-object"),
        pytest.param(["PROCTCAE_9A_SCL"], id="not-an-object"),
    ],
)
def test_malformed_translations_are_refused(data):
    with pytest.raises(TranslationError):
        proctcae_translations.parse_translations(data)


def test_a_translation_file_that_is_not_json_is_refused(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{", encoding="utf-8")
    with pytest.raises(TranslationError):
        proctcae_translations.load_translations(path)
