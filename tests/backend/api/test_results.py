"""Results: GET /patients/{id}/response, /studies/{code}/efficacy and /safety, and the ADRS, ADTTE (OS, DOR) and
ADAE summary exports that must agree with them row by row (CONTRACT.md "Results").

The cohort (first dose Mon 2025-01-06, scans every 42 days; cut-off 2025-07-01 unless said otherwise):
  001 BJ01 INET-PAC      baseline, PR 02-17, PR 03-31, PD 05-12      -> PR confirmed; DoR event 85 days
  002 BJ01 INET-PAC-PER  baseline, SD 02-17, SD 03-31, death 04-20   -> SD (84 days < 183: no benefit); OS event
  003 SH01 INET-PAC      no baseline, SD 02-17                       -> SD, not response-evaluable
  004 SH01 INET-PAC      baseline, nothing since                     -> missing
"""
from __future__ import annotations

import csv
import io
import uuid
from datetime import date

import pytest

from tests.factories import PatientFactory, SiteFactory, StudyFactory, UserFactory
from tests.factories_pfs import dose_event
from tests.factories_symptoms import patient_with_account

FIRST_DOSE = date(2025, 1, 6)
CUTOFF = "2025-07-01"
COHORT = {
    "001": ("BJ01", "INET-PAC", True, (("2025-02-17", "PR"), ("2025-03-31", "PR"), ("2025-05-12", "PD")), ()),
    "002": ("BJ01", "INET-PAC-PER", True, (("2025-02-17", "SD"), ("2025-03-31", "SD")), (("death", "2025-04-20"),)),
    "003": ("SH01", "INET-PAC", False, (("2025-02-17", "SD"),), ()),
    "004": ("SH01", "INET-PAC", True, (), ()),
}


@pytest.fixture()
def study(db):
    study = StudyFactory(code="INET-R")
    SiteFactory(code="BJ01", study=study)
    SiteFactory(code="SH01", study=study)
    return study


@pytest.fixture()
def coordinator(study):
    return UserFactory(role="coordinator", studies=[study])


@pytest.fixture()
def cohort(client, auth, study, coordinator):
    headers = auth.headers(coordinator)
    sites = {site.code: site for site in study.sites}
    patients = {}
    for subject, (site, regimen, baseline, scans, outcomes) in COHORT.items():
        patient = PatientFactory(site=sites[site], subject_id=subject, regimen=regimen, first_dose_date=FIRST_DOSE)
        url = f"/api/v1/patients/{patient.id}"
        if baseline:
            assert client.post(f"{url}/assessments", json={"date": "2025-01-02", "baseline": True},
                               headers=headers).status_code == 201
        for day, response in scans:
            assert client.post(f"{url}/assessments", json={"date": day, "overall_response": response},
                               headers=headers).status_code == 201
        for kind, day in outcomes:
            assert client.post(f"{url}/outcomes", json={"type": kind, "date": day}, headers=headers).status_code == 201
        patients[subject] = patient
    return patients


def get(client, auth, user, url):
    answer = client.get(url, headers=auth.headers(user))
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def csv_rows(client, auth, user, url):
    answer = client.get(url, headers=auth.headers(user))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))


def test_a_confirmed_partial_response_with_its_duration(client, auth, coordinator, cohort):
    body = get(client, auth, coordinator, f"/api/v1/patients/{cohort['001'].id}/response?cutoff={CUTOFF}")
    assert (body["best_overall_response"], body["confirmed"], body["confirmed_by"]) == (
        "PR", True, ["2025-02-17", "2025-03-31"])
    assert (body["first_response_date"], body["confirmation_date"], body["clinical_benefit"]) == (
        "2025-02-17", "2025-03-31", True)
    assert body["dor"] == {"status": "event", "date": "2025-05-12", "days": 85, "cnsr": 0, "reason": "progression"}
    assert body["os"] == {"status": "censored", "date": "2025-05-12", "days": 127, "cnsr": 1, "reason": "ongoing"}
    assert body["cutoff"] == CUTOFF and body["response_evaluable"]


@pytest.mark.parametrize("subject, bor, evaluable, os", [
    ("002", "SD", True, {"status": "event", "date": "2025-04-20", "days": 105, "cnsr": 0, "reason": "death"}),
    ("003", "SD", False, {"status": "censored", "date": "2025-02-17", "days": 43, "cnsr": 1, "reason": "ongoing"}),
    ("004", "missing", True, {"status": "censored", "date": "2025-01-06", "days": 1, "cnsr": 1, "reason": "ongoing"}),
])
def test_patients_without_a_confirmed_response(client, auth, coordinator, cohort, subject, bor, evaluable, os):
    body = get(client, auth, coordinator, f"/api/v1/patients/{cohort[subject].id}/response?cutoff={CUTOFF}")
    assert (body["best_overall_response"], body["confirmed"], body["dor"]) == (bor, False, None)
    assert (body["response_evaluable"], body["os"], body["clinical_benefit"]) == (evaluable, os, False)


def test_the_cutoff_reproduces_what_was_known_then(client, auth, coordinator, cohort):
    body = get(client, auth, coordinator, f"/api/v1/patients/{cohort['001'].id}/response?cutoff=2025-03-30")
    assert (body["best_overall_response"], body["confirmed"]) == ("SD", False)


def test_a_cutoff_before_the_first_dose_is_422(client, auth, coordinator, cohort):
    answer = client.get(f"/api/v1/patients/{cohort['001'].id}/response?cutoff=2025-01-01",
                        headers=auth.headers(coordinator))
    assert answer.status_code == 422 and "cutoff" in answer.get_json()["errors"]["query"]


def test_study_efficacy(client, auth, coordinator, cohort):
    body = get(client, auth, coordinator, f"/api/v1/studies/INET-R/efficacy?cutoff={CUTOFF}")
    assert body["cutoff"] == CUTOFF and body["regimen"] is None
    assert {k: body["orr"][k] for k in ("numerator", "denominator")} == {"numerator": 1, "denominator": 3}
    assert body["orr"]["ci"] == [pytest.approx(0.0084038, abs=1e-6), pytest.approx(0.9057007, abs=1e-6)]
    assert (body["orr_dosed"]["numerator"], body["orr_dosed"]["denominator"]) == (1, 4)
    assert (body["cbr"]["numerator"], body["cbr"]["denominator"]) == (1, 3)
    pfs, os, dor = body["km"]["pfs"], body["km"]["os"], body["km"]["dor"]
    assert (pfs["n"], pfs["events"], os["n"], os["events"], dor["n"], dor["events"]) == (4, 2, 4, 1, 1, 1)
    assert dor["median"] == 85 and os["median"] == 105  # at day 105 one death of the two still followed
    assert pfs["at_risk"][0] == {"day": 0, "n": 4}
    assert [group["regimen"] for group in body["by_regimen"]] == ["INET-PAC", "INET-PAC-PER"]
    assert body["by_regimen"][0]["orr"]["denominator"] == 2


def test_efficacy_of_one_regimen(client, auth, coordinator, cohort):
    body = get(client, auth, coordinator, f"/api/v1/studies/INET-R/efficacy?cutoff={CUTOFF}&regimen=INET-PAC-PER")
    assert body["regimen"] == "INET-PAC-PER" and body["km"]["os"]["n"] == 1


def test_a_nurse_sees_the_results_of_her_sites_only(client, auth, study, cohort):
    nurse = UserFactory(role="nurse", sites=[study.sites[0]])
    body = get(client, auth, nurse, f"/api/v1/studies/INET-R/efficacy?cutoff={CUTOFF}")
    assert body["orr_dosed"]["denominator"] == 2
    assert get(client, auth, nurse, f"/api/v1/studies/INET-R/safety?cutoff={CUTOFF}")["population"] == 2
    answer = client.get(f"/api/v1/patients/{cohort['003'].id}/response", headers=auth.headers(nurse))
    assert answer.status_code == 404


def test_out_of_scope_studies_are_404_and_patients_are_refused(client, auth, study, cohort):
    stranger = UserFactory(role="coordinator", studies=[StudyFactory()])
    for path in ("efficacy", "safety", "exports/adrs.csv", "exports/adae-summary.csv"):
        assert client.get(f"/api/v1/studies/INET-R/{path}", headers=auth.headers(stranger)).status_code == 404
    assert client.get(f"/api/v1/patients/{cohort['001'].id}/response",
                      headers=auth.headers(stranger)).status_code == 404
    _, user = patient_with_account(study.sites[0])
    for url in (f"/api/v1/patients/{cohort['001'].id}/response", "/api/v1/studies/INET-R/efficacy",
                "/api/v1/studies/INET-R/safety"):
        assert client.get(url, headers=auth.headers(user)).status_code == 403


@pytest.mark.parametrize("query", ["regimen=%3Cscript%3E", "regimen=" + "A" * 41, "cutoff=yesterday"])
def test_hostile_queries_are_422(client, auth, coordinator, cohort, query):
    answer = client.get(f"/api/v1/studies/INET-R/efficacy?{query}", headers=auth.headers(coordinator))
    assert answer.status_code == 422


@pytest.mark.parametrize("settings", [{"confirm_min_days": 0}, {"sd_min_days": 366}, {"cbr_sd_min_days": "183"}])
def test_response_settings_are_checked_when_the_study_is_set_up(client, auth, db, settings):
    admin = UserFactory(role="admin")
    answer = client.post("/api/v1/studies", json={"code": "S-X", "title": "X", "settings": settings},
                         headers=auth.headers(admin))
    assert answer.status_code == 422 and "settings" in answer.get_json()["errors"]["json"]


def test_the_confirmation_interval_is_a_study_setting(client, auth, study, coordinator, cohort):
    study.settings = {"confirm_min_days": 43}
    from backend.extensions import db
    db.session.commit()
    body = get(client, auth, coordinator, f"/api/v1/patients/{cohort['001'].id}/response?cutoff={CUTOFF}")
    assert (body["best_overall_response"], body["confirmed"]) == ("SD", False)


# --- safety ---------------------------------------------------------------------------------------
def record_ae(client, auth, user, patient, term, grade, onset, **fields):
    body = {"ctcae_term": term, "grade": grade, "onset_date": onset, "serious": False, "related": True,
            "action_taken": "dose_not_changed", **fields}
    answer = client.post(f"/api/v1/patients/{patient.id}/adverse-events", json=body, headers=auth.headers(user))
    assert answer.status_code == 201, answer.get_json()


def test_the_safety_table(client, auth, study, coordinator, cohort):
    nurse = UserFactory(role="nurse", sites=list(study.sites))
    first, second = cohort["001"], cohort["002"]
    dose_event(first, 1, FIRST_DOSE, status="completed", actual_date=FIRST_DOSE)
    dose_event(first, 2, date(2025, 3, 3), status="completed", actual_date=date(2025, 3, 3))
    record_ae(client, auth, nurse, first, "Anemia", 3, "2025-02-01", serious=True, action_taken="dose_reduced")
    record_ae(client, auth, nurse, first, "Anemia", 1, "2025-04-02")          # 30 days after the last dose
    record_ae(client, auth, nurse, first, "Nausea", 2, "2025-04-03")          # 31 days after: not emergent
    record_ae(client, auth, nurse, second, "Anemia", 2, "2025-01-20", action_taken="drug_withdrawn")
    record_ae(client, auth, nurse, second, "Nausea", 1, "2025-01-03")         # before the first dose
    client.post(f"/api/v1/patients/{first.id}/symptom-reports", headers=auth.headers(nurse),
                json={"client_report_id": str(uuid.uuid4()), "completed_at": "2025-02-10T02:00:00Z",
                      "answers": [{"item": "PROCTCAE_27A_SCL", "value": 3}]})

    body = get(client, auth, coordinator, f"/api/v1/studies/INET-R/safety?cutoff={CUTOFF}")

    assert body["population"] == 4 and body["cutoff"] == CUTOFF
    rows = {row["term"]: row for row in body["teae"]}
    assert set(rows) == {"ANY ADVERSE EVENT", "Anemia"}
    anemia = rows["Anemia"]
    assert anemia["any_grade"] == {"n": 2, "rate": 0.5}
    assert (anemia["grade_2"]["n"], anemia["grade_3"]["n"], anemia["grade_3_plus"]["n"]) == (1, 1, 1)
    assert (anemia["serious"]["n"], anemia["dose_reduced"]["n"], anemia["drug_withdrawn"]["n"]) == (1, 1, 1)
    assert anemia["soc"] == "Blood and lymphatic system disorders"
    assert body["pro_ctcae"]["patients"] == 1
    assert [group["regimen"] for group in body["by_regimen"]] == ["INET-PAC", "INET-PAC-PER"]

    summary = csv_rows(client, auth, coordinator, f"/api/v1/studies/INET-R/exports/adae-summary.csv?cutoff={CUTOFF}")
    exported = {(r["TRT01P"], r["AEDECOD"]): r for r in summary}
    for group, table in (("ALL", body), *((g["regimen"], g) for g in body["by_regimen"])):
        for row in table["teae"]:
            line = exported.pop((group, row["term"]))
            assert (int(line["POPN"]), int(line["N_ANY"]), int(line["N_GR3PL"]), int(line["N_SER"])) == (
                table["population"], row["any_grade"]["n"], row["grade_3_plus"]["n"], row["serious"]["n"])
            assert line["DATACUTDT"] == CUTOFF
    assert not exported


# --- exports agree with the endpoints ---------------------------------------------------------------
@pytest.mark.parametrize("cutoff", ["2025-03-30", CUTOFF])
def test_adrs_and_adtte_agree_with_the_response_endpoint(client, auth, coordinator, cohort, cutoff):
    adrs = {r["SUBJID"]: r for r in csv_rows(client, auth, coordinator,
                                             f"/api/v1/studies/INET-R/exports/adrs.csv?cutoff={cutoff}")}
    adtte = {(r["SUBJID"], r["PARAMCD"]): r for r in csv_rows(
        client, auth, coordinator, f"/api/v1/studies/INET-R/exports/adtte.csv?as_of={cutoff}")}
    assert len(adrs) == len(cohort)
    for subject, patient in cohort.items():
        body = get(client, auth, coordinator, f"/api/v1/patients/{patient.id}/response?cutoff={cutoff}")
        row = adrs[subject]
        first, second = body["confirmed_by"] or ["", ""]
        assert (row["AVALC"], row["CNFRMFL"], row["RSPSTDT"], row["CNFRMDT"], row["ADT"], row["CBRFL"]) == (
            body["best_overall_response"], "Y" if body["confirmed"] else "N", first, second,
            body["confirmation_date"] or "", "Y" if body["clinical_benefit"] else "N")
        assert (row["DATACUTDT"], row["EVALFL"]) == (cutoff, "Y" if body["response_evaluable"] else "N")
        for paramcd, key in (("OS", "os"), ("DOR", "dor")):
            tte = body[key]
            if tte is None:
                assert (subject, paramcd) not in adtte
                continue
            line = adtte[(subject, paramcd)]
            assert (line["ADT"], int(line["AVAL"]), int(line["CNSR"]), line["DATACUTDT"]) == (
                tte["date"], tte["days"], tte["cnsr"], cutoff)
    assert ("001", "DOR") in adtte or cutoff < "2025-03-31"


def test_adrs_accepts_as_of_as_the_older_name_of_cutoff(client, auth, coordinator, cohort):
    rows = csv_rows(client, auth, coordinator, "/api/v1/studies/INET-R/exports/adrs.csv?as_of=2025-03-30")
    assert {r["DATACUTDT"] for r in rows} == {"2025-03-30"}


def test_result_exports_are_for_coordinators_and_admins(client, auth, study, cohort):
    nurse = UserFactory(role="nurse", sites=[study.sites[0]])
    for name in ("adrs.csv", "adae-summary.csv"):
        assert client.get(f"/api/v1/studies/INET-R/exports/{name}", headers=auth.headers(nurse)).status_code == 403


def test_swimmer_lanes_come_from_the_same_results(cohort):
    from backend.services.results import derive_results, swimmer_lane

    results = derive_results(list(cohort.values()), date(2025, 7, 1))
    responder = swimmer_lane(results[cohort["001"].id])
    assert (responder.days, responder.ongoing, responder.best_response) == (127, True, "PR")
    assert responder.markers == (("response", 43), ("confirmation", 85), ("progression", 127))
    died = swimmer_lane(results[cohort["002"].id])
    assert (died.ongoing, died.markers) == (False, (("death", 105),))


def test_bulk_reads_see_what_the_transaction_added_but_did_not_flush(db, study):
    """The bulk loads read plain Core rows for speed; they flush pending changes first, as the ORM would."""
    from backend.models import PatientOutcome, TumourAssessment
    from backend.services.pfs import load_histories

    patient = PatientFactory(site=study.sites[0], first_dose_date=FIRST_DOSE)
    db.session.flush()
    db.session.add(TumourAssessment(patient_id=patient.id, date=date(2025, 2, 17), overall_response="PR",
                                    baseline=False, scan_dates=["2025-02-15"]))
    db.session.add(PatientOutcome(patient_id=patient.id, type="death", date=date(2025, 3, 1)))
    history = load_histories([patient.id])[patient.id]
    assert [(a.date, a.overall_response, a.scan_dates) for a in history.assessments] == [
        (date(2025, 2, 17), "PR", (date(2025, 2, 15),))]
    assert [(o.type, o.date) for o in history.outcomes] == [("death", date(2025, 3, 1))]
