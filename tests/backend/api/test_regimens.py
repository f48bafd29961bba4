"""GET /regimens (CONTRACT.md "Set-up"): the four built-in regimens as data."""
import pytest

from tests.factories import UserFactory


def test_every_signed_in_user_lists_the_four_regimens(client, auth):
    answer = client.get("/api/v1/regimens", headers=auth.headers(UserFactory(role="patient")))
    assert answer.status_code == 200
    assert [r["code"] for r in answer.get_json()] == ["INET-PAC", "INET-PAC-PER", "INET-PER-DOC", "INET-PYR-VNR"]


@pytest.mark.parametrize(("code", "agents"), [
    pytest.param("INET-PAC", {"inetetamab": [1], "paclitaxel": [1, 8, 15]}, id="weekly paclitaxel"),
    pytest.param("INET-PAC-PER", {"inetetamab": [1], "pertuzumab": [1], "paclitaxel": [1, 8, 15]}, id="plus pertuzumab"),
    pytest.param("INET-PER-DOC", {"inetetamab": [1], "pertuzumab": [1], "docetaxel": [1]}, id="docetaxel day 1"),
    pytest.param("INET-PYR-VNR", {"inetetamab": [1], "vinorelbine": [1, 8], "pyrotinib": "continuous"},
                 id="daily oral pyrotinib"),
])
def test_a_regimen_carries_its_agents_day_patterns_and_doses(client, auth, code, agents):
    regimens = {r["code"]: r for r in client.get("/api/v1/regimens", headers=auth.headers(UserFactory(role="nurse"))).get_json()}
    regimen = regimens[code]
    assert regimen["cycle_length_days"] == 21
    assert {a["name"]: a["days"] for a in regimen["agents"]} == agents
    assert {"name", "dose", "unit"} <= set(regimen["agents"][0])
    inetetamab = regimen["agents"][0]
    assert (inetetamab["dose"], inetetamab["loading_dose"], inetetamab["unit"]) == (6, 8, "mg/kg")


def test_regimens_need_a_token(client):
    assert client.get("/api/v1/regimens").status_code == 401
