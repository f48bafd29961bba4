"""The schema is built by the migrations alone, and the models agree with them."""
from contextlib import contextmanager

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext


@contextmanager
def scratch_database(suffix: str):
    """The app on a new, empty database of its own (no revision applied), inside its app context; the
    database is dropped afterwards, whatever the test's outcome."""
    from backend import create_app
    from backend.extensions import db
    from tests.conftest import _database_url, _recreate_database, test_config

    url = _database_url() + suffix
    _recreate_database(url)
    scratch = create_app({**test_config(), "SQLALCHEMY_DATABASE_URI": url, "MIGRATION_DATABASE_URL": url})
    try:
        with scratch.app_context():
            yield scratch
            db.engine.dispose()
    finally:
        admin = sa.create_engine(sa.engine.make_url(url).set(drivername="postgresql+psycopg", database="postgres"),
                                 isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{sa.engine.make_url(url).database}" WITH (FORCE)'))
        admin.dispose()


def test_upgrading_an_empty_database_to_head_leaves_no_drift(app, db):
    """The session's database was created empty and upgraded to head by the `app` fixture."""
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_every_revision_has_a_real_message():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from backend.config import PROJECT_ROOT

    config = Config(str(PROJECT_ROOT / "migrations" / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    script = ScriptDirectory.from_config(config)
    revisions = list(script.walk_revisions())
    assert revisions
    for revision in revisions:
        assert revision.doc and len(revision.doc) > 15, revision.revision
    assert len(script.get_heads()) == 1, "migrations must form a single line"


def test_revision_0006_folds_the_alerts_of_one_report_into_one(app):
    """Existing data: the two alerts of one report become one listing both findings (the most serious
    first), open because one was; the fold is audited; a pending staff message about the deleted alert
    is cancelled."""
    import json
    import uuid

    from flask_migrate import upgrade

    from backend.extensions import db

    with scratch_database("_fold"):
        upgrade(revision="0005")
        ids = {name: uuid.uuid4() for name in ("study", "site", "patient", "report", "severe", "grade", "user", "note")}
        with db.engine.begin() as conn:
            conn.execute(sa.text("SET LOCAL session_replication_role = replica"))  # seed without the audit check
            run = lambda sql, **p: conn.execute(sa.text(sql), {**{k: str(v) for k, v in ids.items()}, **p})  # noqa: E731
            run("INSERT INTO studies (id, code, title, assessment_interval_days, assessment_window_days, "
                "pfs_missed_rule, settings, created_at, updated_at) VALUES (:study, 'F', 'Fold', 42, 7, 'visits', '{}', "
                "now(), now())")
            run("INSERT INTO sites (id, code, name, study_id, timezone, country, closures, created_at, updated_at) "
                "VALUES (:site, 'F1', 'Fold', :study, 'UTC', 'GB', '[]', now(), now())")
            run("INSERT INTO patients (id, study_id, site_id, subject_id, regimen, first_dose_date, locale, status, "
                "created_at, updated_at) VALUES (:patient, :study, :site, 'F-1', 'INET-PAC', '2026-01-05', 'en', "
                "'on_treatment', now(), now())")
            run("INSERT INTO symptom_reports (id, patient_id, client_report_id, completed_at, local_date, answers, "
                "symptoms, unscheduled, entered_by_role, created_at, updated_at) VALUES (:report, :patient, :note, "
                "now(), '2026-02-01', '{}', '[]', true, 'patient', now(), now())")
            for alert, rule, status, detail in (("severe", "severe_symptom", "closed", {"value": 3, "composite_grade": 3}),
                                                 ("grade", "composite_grade", "open", {"composite_grade": 3})):
                run("INSERT INTO symptom_alerts (id, patient_id, site_id, report_id, rule, term_number, term, detail, "
                    "status, created_at, updated_at) VALUES (:" + alert + ", :patient, :site, :report, :rule, 9, "
                    "'Nausea', CAST(:detail AS json), :status, now(), now())",
                    rule=rule, status=status, detail=json.dumps(detail))
            run("INSERT INTO users (id, username, password_hash, role, is_active, created_at, updated_at) "
                "VALUES (:user, 'fold-nurse', 'x', 'nurse', true, now(), now())")
            run("INSERT INTO staff_notifications (id, user_id, site_id, message_key, params, channel, dedupe_key, "
                "send_at, status, attempts, created_at) VALUES (:note, :user, :site, 'staff.symptom_alert', "
                "'{\"subject_id\": \"F-1\", \"symptom\": \"Nausea\", \"rule\": \"severe_symptom\"}', 'email', "
                "'alert:' || CAST(:severe AS text), now(), 'scheduled', 0, now())")
        upgrade()
        with db.engine.connect() as conn:
            [alert] = conn.execute(sa.text("SELECT id, status, rule, symptoms FROM symptom_alerts")).all()
            assert str(alert.id) == str(ids["grade"]) and alert.status == "open" and alert.rule == "composite_grade"
            assert [f["rule"] for f in alert.symptoms] == ["composite_grade", "severe_symptom"]
            assert conn.execute(sa.text("SELECT status FROM staff_notifications")).scalar() == "cancelled"
            audited = conn.execute(sa.text("SELECT action, entity_id FROM audit_records WHERE entity = 'symptom_alerts' "
                                           "ORDER BY id")).all()
            assert [(a.action, a.entity_id) for a in audited] == [("update", str(ids["grade"])),
                                                                  ("delete", str(ids["severe"]))]


def test_revision_0009_downgrades_to_the_per_row_check_of_inserts_and_back(app):
    """0009 moves the check of new events to one statement-level trigger; its downgrade restores the
    deferred per-row check of INSERT (0007) and drops the index it added."""
    from flask_migrate import downgrade, upgrade

    from backend.extensions import db

    def state():
        with db.engine.connect() as conn:
            triggers = dict(conn.execute(sa.text(
                "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = 'events'::regclass "
                "AND tgname IN ('events_audited', 'events_inserts_audited')")).all())
            index = conn.execute(sa.text("SELECT to_regclass('ix_audit_records_transaction')")).scalar()
        return triggers, index

    with scratch_database("_0009"):
        upgrade()
        triggers, index = state()
        assert "AFTER DELETE OR UPDATE ON" in triggers["events_audited"]
        assert "AFTER INSERT" in triggers["events_inserts_audited"] and "FOR EACH STATEMENT" in \
            triggers["events_inserts_audited"] and index is not None
        downgrade(revision="0008_worklist_versions")
        triggers, index = state()
        assert list(triggers) == ["events_audited"] and index is None
        assert "AFTER INSERT OR DELETE OR UPDATE" in triggers["events_audited"]
        assert "DEFERRABLE INITIALLY DEFERRED" in triggers["events_audited"]
        upgrade()
        assert "events_inserts_audited" in state()[0]
