"""The console's worklist page, through Flask's test client: each row offers the action its kind asks for."""
from __future__ import annotations

from datetime import timedelta

from backend.services.assessments import site_today
from tests.console.test_security import HTTPS, sign_in
from tests.factories import PatientFactory, SiteFactory, UserFactory
from tests.factories_pfs import survey_event


def test_a_survey_non_responder_is_a_call_to_make_not_a_visit_to_record(client, db):
    site = SiteFactory(code="SH01")
    silent = PatientFactory(site=site, subject_id="P-SILENT", first_dose_date=site_today(site) - timedelta(days=21))
    for n in (1, 2, 3):
        survey_event(silent, n)
    sign_in(client, UserFactory(role="nurse", sites=[site]))

    page = client.get("/console/sites/SH01", base_url=HTTPS).get_data(as_text=True)

    row = page[page.index('data-kind="survey_nonresponse"'):]
    row = row[:row.index("</li>")]
    assert "P-SILENT" in row and "Call the patient" in row
    assert "<form" not in row and "Record or reschedule" not in row
