"""CSV exports: ADTTE agrees with GET /patients/{id}/pfs for every patient, and one row per visit
(backend/services/exports.py)."""
from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from tests.backend.api.test_pfs import SCENARIOS, record
from tests.factories import PatientFactory, SiteFactory, StudyFactory, UserFactory
from tests.factories_pfs import assessment_event, dose_event

FIRST_DOSE = date(2025, 1, 6)
EXPORTED = [
    "progression the day after the window: event, the late scan still attends its visit",
    "the day after an empty window the visit is missed: at risk until the next window closes",
    "FDA row 'more than one missed visit': scan late in its window, two misses, progression censored",
    "FDA row 'new anticancer treatment': therapy on a scan day censors at the scan before",
    "FDA row 'death between adequate assessment visits': event at death",
    "FDA row 'no baseline tumor assessments': censored at the first dose",
    "end of follow-up: censored at the last adequate assessment",
]


def rows(answer):
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))


@pytest.fixture()
def study(db):
    study = StudyFactory(code="INET-1L")
    SiteFactory(code="BJ01", study=study, timezone="Asia/Shanghai")
    SiteFactory(code="LDN01", study=study, timezone="Europe/London")
    return study


@pytest.fixture()
def coordinator(study):
    return UserFactory(role="coordinator", studies=[study])


def enrol_scenarios(client, auth, study, coordinator):
    patients = []
    for n, name in enumerate(EXPORTED):
        site = study.sites[n % 2]
        patient = PatientFactory(site=site, subject_id=f"{n + 1:03d}", first_dose_date=FIRST_DOSE)
        record(client, auth.headers(coordinator), patient, SCENARIOS[name])
        patients.append(patient)
    return patients


ADTTE_COLUMNS = ["STUDYID", "USUBJID", "SUBJID", "SITEID", "PARAMCD", "PARAM", "STARTDT", "ADT", "AVAL", "AVALU",
                 "CNSR", "EVNTDESC", "CNSDTDSC", "LADQDT", "DATACUTDT"]


@pytest.mark.parametrize("query", ["?cutoff=2025-04-08", "?as_of=2025-07-01", "?cutoff=2025-07-01", ""],
                         ids=["early data cut", "older parameter name", "later cut", "today"])
def test_adtte_agrees_with_the_pfs_endpoint_for_every_patient(client, auth, study, coordinator, query):
    patients = enrol_scenarios(client, auth, study, coordinator)
    headers = auth.headers(coordinator)
    answer = client.get(f"/api/v1/studies/INET-1L/exports/adtte.csv{query}", headers=headers)
    assert answer.get_data(as_text=True).splitlines()[0].split(",") == ADTTE_COLUMNS
    exported = {row["SUBJID"]: row for row in rows(answer) if row["PARAMCD"] == "PFS"}

    assert len(exported) == len(patients)
    [cutoff] = {row["DATACUTDT"] for row in exported.values()}
    assert cutoff == (query.split("=")[1] if query else date.today().isoformat()) or not query
    for patient in patients:
        pfs = client.get(f"/api/v1/patients/{patient.id}/pfs?as_of={cutoff}", headers=headers).get_json()
        row = exported[patient.subject_id]
        assert (row["ADT"], int(row["AVAL"]), int(row["CNSR"])) == (pfs["date"], pfs["days"], pfs["cnsr"]), \
            patient.subject_id
        assert row["LADQDT"] == (pfs["last_adequate_assessment"] or "")
        assert (row["USUBJID"], row["PARAMCD"], row["STARTDT"]) == (f"INET-1L-{patient.subject_id}", "PFS", "2025-01-06")


def test_one_cut_off_per_export_and_the_dates_each_censoring_names_are_filled(client, auth, study, coordinator):
    """Issue 9 item 7: a future first dose gets the export's cut-off too; a censoring at the last adequate
    assessment names that date in LADQDT, one at the first dose has STARTDT."""
    enrol_scenarios(client, auth, study, coordinator)
    PatientFactory(site=study.sites[0], subject_id="900", first_dose_date=date(2025, 9, 1))
    exported = rows(client.get("/api/v1/studies/INET-1L/exports/adtte.csv?cutoff=2025-07-01",
                               headers=auth.headers(coordinator)))
    assert {row["DATACUTDT"] for row in exported} == {"2025-07-01"}
    for row in exported:
        if "LAST ADEQUATE" in row["CNSDTDSC"]:
            assert row["LADQDT"] and row["LADQDT"] == row["ADT"], row
        if row["CNSDTDSC"] == "FIRST DOSE":
            assert row["ADT"] == row["STARTDT"], row
        if row["CNSR"] != "0":
            assert row["CNSDTDSC"], row


def test_two_different_cut_offs_are_refused(client, auth, study, coordinator):
    answer = client.get("/api/v1/studies/INET-1L/exports/adtte.csv?cutoff=2025-07-01&as_of=2025-04-08",
                        headers=auth.headers(coordinator))
    assert answer.status_code == 422


def test_adtte_describes_events_and_censoring(client, auth, study, coordinator):
    enrol_scenarios(client, auth, study, coordinator)
    exported = rows(client.get("/api/v1/studies/INET-1L/exports/adtte.csv?cutoff=2025-07-01",
                               headers=auth.headers(coordinator)))
    described = {(r["CNSR"], r["EVNTDESC"], r["CNSDTDSC"]) for r in exported}
    assert ("0", "DISEASE PROGRESSION", "") in described
    assert ("0", "DEATH", "") in described
    assert ("4", "CENSORED: NEW ANTICANCER THERAPY",
            "LAST ADEQUATE TUMOUR ASSESSMENT BEFORE NEW ANTICANCER THERAPY") in described
    assert ("2", "CENSORED: NO BASELINE TUMOUR ASSESSMENT", "FIRST DOSE") in described
    assert [r["SITEID"] for r in exported] == sorted(r["SITEID"] for r in exported)


def test_subject_visits_lists_planned_and_actual_dates_with_the_pfs_visit_status(client, auth, study, coordinator):
    patient = PatientFactory(site=study.sites[0], subject_id="001", first_dose_date=FIRST_DOSE)
    record(client, auth.headers(coordinator), patient, SCENARIOS[
        "the day after an empty window the visit is missed: at risk until the next window closes"])
    dose_event(patient, 1, FIRST_DOSE, status="completed", actual_date=FIRST_DOSE)
    dose_event(patient, 2, date(2025, 1, 27), status="completed", actual_date=date(2025, 2, 3))
    assessment_event(patient, 1, status="completed", actual_date=date(2025, 2, 17))
    assessment_event(patient, 2, status="missed")

    exported = rows(client.get("/api/v1/studies/INET-1L/exports/subject-visits.csv?as_of=2025-04-08",
                               headers=auth.headers(coordinator)))

    assert [(r["VISIT"], r["PLANDT"], r["WINSTDT"], r["WINENDT"], r["ACTDT"], r["STATUS"], r["INWINFL"], r["PFSVSTAT"])
            for r in exported] == [
        ("Cycle 1 Day 1", "2025-01-06", "2025-01-03", "2025-01-09", "2025-01-06", "completed", "Y", ""),
        ("Cycle 2 Day 1", "2025-01-27", "2025-01-24", "2025-01-30", "2025-02-03", "completed", "N", ""),
        ("Tumour assessment 1", "2025-02-17", "2025-02-10", "2025-02-24", "2025-02-17", "completed", "Y", "done"),
        ("Tumour assessment 2", "2025-03-31", "2025-03-24", "2025-04-07", "", "missed", "", "missed"),
    ]


def test_cells_that_would_run_as_formulas_are_defused(client, auth, study, coordinator):
    PatientFactory(site=study.sites[0], subject_id="=HYPERLINK(1)", first_dose_date=FIRST_DOSE)
    row, *_ = rows(client.get("/api/v1/studies/INET-1L/exports/adtte.csv", headers=auth.headers(coordinator)))
    assert row["SUBJID"] == "'=HYPERLINK(1)"


def test_exports_are_for_coordinators_and_admins(client, auth, study):
    nurse = UserFactory(role="nurse", sites=[study.sites[0]])
    for name in ("adtte.csv", "subject-visits.csv"):
        answer = client.get(f"/api/v1/studies/INET-1L/exports/{name}", headers=auth.headers(nurse))
        assert answer.status_code == 403
    admin = UserFactory(role="admin")
    answer = client.get("/api/v1/studies/INET-1L/exports/adtte.csv", headers=auth.headers(admin))
    assert answer.headers["Content-Disposition"] == 'attachment; filename="INET-1L-adtte.csv"'
