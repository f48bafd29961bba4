"""The CTCAE v5.0 term pick-list for clinicians: search by words, MedDRA code or SOC."""
from __future__ import annotations

import pytest

from tests.factories import SiteFactory, UserFactory


@pytest.fixture()
def nurse(db):
    return UserFactory(role="nurse", sites=[SiteFactory()])


def search(client, auth, nurse, query):
    answer = client.get(f"/api/v1/ctcae/terms{query}", headers=auth.headers(nurse))
    assert answer.status_code == 200
    return answer.get_json()


def test_a_term_has_its_meddra_code_soc_and_only_the_grades_it_defines(client, auth, nurse):
    [alopecia] = search(client, auth, nurse, "?q=alopecia")
    assert alopecia["term"] == "Alopecia" and alopecia["meddra_code"] == "10001760"
    assert alopecia["soc"] == "Skin and subcutaneous tissue disorders"
    assert list(alopecia["grades"]) == ["1", "2"]
    assert alopecia["grades"]["1"].startswith("Hair loss of <50%")


@pytest.mark.parametrize("query, first", [
    pytest.param("?q=febrile neutro", "Febrile neutropenia", id="words-of-the-name"),
    pytest.param("?q=10028813", "Nausea", id="a-meddra-code"),
    pytest.param("?q=Cardiac disorders", "Aortic valve disease", id="a-soc-name-lists-its-terms"),
])
def test_terms_are_found_by_words_code_or_soc(client, auth, nurse, query, first):
    assert search(client, auth, nurse, query)[0]["term"] == first


def test_the_list_is_limited(client, auth, nurse):
    assert len(search(client, auth, nurse, "?limit=5")) == 5
    assert client.get("/api/v1/ctcae/terms?limit=0", headers=auth.headers(nurse)).status_code == 422
