"""Nothing sensitive in logs (issue 10, item 9): a database error is logged without the values it was
given, and the access log never carries a calendar-feed secret."""
from __future__ import annotations

import logging
import threading
import urllib.request
from datetime import timedelta

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from tests.factories import SiteFactory, staff_for
from tests.factories_patients import enrol, site_today

SECRET = "Patient reports suicidal thoughts since Tuesday"


def test_the_engine_hides_sql_parameters(app, db):
    with pytest.raises(sa.exc.DBAPIError) as failed:
        db.session.execute(sa.text("SELECT CAST(:note AS integer)"), {"note": SECRET})
    db.session.rollback()
    assert SECRET not in str(failed.value).split("\n[SQL")[1]  # the driver's own message aside
    assert "hidden due to hide_parameters=True" in str(failed.value)


def test_an_unhandled_database_error_is_logged_without_its_values(app, db, caplog):
    """The driver's message and DETAIL quote the value ('invalid input syntax for type integer: "…"'):
    the error handler logs the class, SQLSTATE and statement only."""
    try:
        db.session.execute(sa.text("SELECT CAST(:note AS integer)"), {"note": SECRET})
    except sa.exc.DBAPIError as error:
        failure = error
    with caplog.at_level(logging.INFO), app.test_request_context("/api/v1/alerts/x/acknowledge", method="POST"):
        response = app.make_response(app.handle_user_exception(failure))
    assert response.status_code == 500 and response.get_json()["reason"] == "internal_error"
    assert "unhandled database error" in caplog.text and "sqlstate=22P02" in caplog.text
    assert SECRET not in caplog.text


def test_an_integrity_conflict_is_logged_without_the_duplicate_value(app, db, caplog):
    site = SiteFactory()
    enrol(site, "INET-PAC", subject_id="SUBJ-1")
    enrol(site, "INET-PAC", subject_id="SUBJ-2")
    try:  # DETAIL: Key (study_id, subject_id)=(…, SUBJ-SECRET-42) already exists.
        db.session.execute(sa.text("UPDATE patients SET subject_id = :s"), {"s": "SUBJ-SECRET-42"})
    except sa.exc.IntegrityError as error:
        failure = error
    with caplog.at_level(logging.INFO), app.test_request_context("/api/v1/patients", method="POST"):
        response = app.make_response(app.handle_user_exception(failure))
    assert response.status_code == 409
    assert "integrity error" in caplog.text and "SUBJ-SECRET-42" not in caplog.text


def test_the_access_log_never_records_a_calendar_feed_secret(app, client, auth, db, caplog):
    site = SiteFactory(code="SH01")
    patient = enrol(site, "INET-PAC", first_dose=site_today(site) - timedelta(days=3))
    issued = client.post(f"/api/v1/patients/{patient.id}/calendar-feed",
                         headers=auth.headers(staff_for(site)["nurse"])).get_json()
    token = issued["token"]
    server = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.handle_request)
    thread.start()
    try:
        with caplog.at_level(logging.INFO, logger="werkzeug"):
            with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/api/v1/calendar-feeds/{token}.ics",
                                        timeout=10) as answer:
                assert answer.status == 200
            thread.join(10)
    finally:
        server.server_close()
    lines = [record.getMessage() for record in caplog.records if record.name == "werkzeug"]
    assert any("/calendar-feeds/[redacted].ics" in line for line in lines), lines
    assert token not in caplog.text
