"""The audit trail: who, when, what, why, from where; append-only; in the change's own transaction."""
import pytest
import sqlalchemy as sa

from backend.models import AuditRecord, Study
from tests.factories import StudyFactory, UserFactory


def test_a_change_through_the_api_is_audited_with_who_what_and_request_id(client, auth, db):
    admin = UserFactory(role="admin")
    answer = client.post("/api/v1/studies", json={"code": "AUD", "title": "Audited"},
                         headers={**auth.headers(admin), "X-Request-ID": "req-42"})
    study_id = answer.get_json()["id"]
    records = client.get(f"/api/v1/audit?entity=studies&id={study_id}", headers=auth.headers(admin)).get_json()
    assert len(records) == 1
    record = records[0]
    assert record["action"] == "create"
    assert record["user_id"] == str(admin.id) and record["role"] == "admin"
    assert record["request_id"] == "req-42"
    assert record["changes"]["code"] == {"before": None, "after": "AUD"}
    assert record["at"].endswith("Z")


def test_an_update_records_before_and_after_and_the_reason(db):
    study = StudyFactory(title="Old title")
    db.session.info["audit_reason"] = "protocol amendment 2"
    study.title = "New title"
    db.session.commit()
    update = db.session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "update")).one()
    assert update.changes == {"title": {"before": "Old title", "after": "New title"}}
    assert update.reason == "protocol amendment 2"


def test_passwords_never_reach_the_audit_trail(db):
    user = UserFactory()
    record = db.session.scalars(sa.select(AuditRecord).where(AuditRecord.entity_id == str(user.id))).one()
    assert "password_hash" not in record.changes


def test_audit_records_cannot_be_changed_through_the_orm(db):
    StudyFactory()
    record = db.session.scalars(sa.select(AuditRecord)).first()
    record.reason = "tampered"
    with pytest.raises(Exception, match="audit records cannot be changed"):
        db.session.commit()
    db.session.rollback()


TAMPERING = ["UPDATE audit_records SET reason = 'tampered'", "DELETE FROM audit_records", "TRUNCATE audit_records"]


@pytest.mark.parametrize("statement", TAMPERING)
def test_the_app_cannot_change_or_cut_the_audit_trail(db, statement):
    """The app's database role has no UPDATE, DELETE or TRUNCATE on the trail."""
    StudyFactory()
    with pytest.raises(sa.exc.DBAPIError, match="permission denied|append-only"):
        with db.engine.begin() as conn:
            conn.execute(sa.text(statement))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditRecord)) == 1


@pytest.mark.parametrize("statement", TAMPERING)
def test_even_the_owner_cannot_change_or_cut_the_audit_trail_with_triggers_on(db, owner_engine, statement):
    StudyFactory()
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        with owner_engine.begin() as conn:
            conn.execute(sa.text(statement))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditRecord)) == 1


@pytest.mark.parametrize("statement", [
    "ALTER TABLE audit_records DISABLE TRIGGER ALL",
    "ALTER TABLE events DISABLE TRIGGER events_audited",
    "DROP TRIGGER audit_records_append_only ON audit_records",
    "SET session_replication_role = replica",
    "TRUNCATE events CASCADE",
])
def test_the_app_role_may_not_disable_triggers_alter_or_truncate(db, statement):
    with pytest.raises(sa.exc.DBAPIError, match="permission denied|must be owner"):
        with db.engine.begin() as conn:
            conn.execute(sa.text(statement))


def test_the_app_does_not_connect_as_the_owner_or_a_superuser(db):
    with db.engine.connect() as conn:
        superuser = conn.execute(sa.text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")).scalar()
        owner = conn.execute(sa.text("SELECT tableowner FROM pg_tables WHERE tablename = 'audit_records'")).scalar()
        me = conn.execute(sa.text("SELECT current_user")).scalar()
    assert superuser is False and owner != me


def test_a_visit_outcome_written_behind_the_orms_back_cannot_be_committed(db):
    """events have the same "no change without an audit record" check as the other clinical tables."""
    from tests.factories import SiteFactory
    from tests.factories_patients import enrol

    patient = enrol(SiteFactory())
    with pytest.raises(sa.exc.DBAPIError, match="has no audit record"):
        with db.engine.begin() as conn:
            conn.execute(sa.text("UPDATE events SET status = 'completed' WHERE patient_id = :p"), {"p": patient.id})
    statuses = db.session.scalars(sa.text("SELECT DISTINCT status FROM events WHERE patient_id = :p"),
                                  {"p": patient.id}).all()
    assert "completed" not in statuses


def test_a_change_without_its_audit_record_cannot_be_committed(db):
    """Written behind the ORM's back (no audit record), the insert is refused at commit."""
    with pytest.raises(sa.exc.DBAPIError, match="has no audit record"):
        with db.engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO studies (id, code, title, assessment_interval_days, assessment_window_days, "
                "pfs_missed_rule, settings, created_at, updated_at) VALUES "
                "(gen_random_uuid(), 'SNEAK', 'x', 42, 7, 'visits', '{}', now(), now())"))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Study)) == 0


def test_when_the_audit_write_fails_the_change_is_rolled_back(db, monkeypatch):
    from backend.models import audit

    def broken(*args, **kwargs):
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(audit, "audit_entry", broken)
    with pytest.raises(RuntimeError):
        StudyFactory(code="NOPE")
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Study)) == 0


def test_nurses_cannot_read_the_audit_trail(client, auth):
    assert client.get("/api/v1/audit", headers=auth.headers(UserFactory(role="nurse"))).status_code == 403


def test_a_coordinator_reads_the_trail_of_records_in_their_studies_only(client, auth):
    mine, theirs = StudyFactory(code="MINE"), StudyFactory(code="THEIRS")
    coordinator = UserFactory(role="coordinator", studies=[mine])
    headers = auth.headers(coordinator)
    assert client.get(f"/api/v1/audit?entity=studies&id={mine.id}", headers=headers).status_code == 200
    assert client.get(f"/api/v1/audit?entity=studies&id={theirs.id}", headers=headers).status_code == 404
    everything = client.get("/api/v1/audit", headers=headers)
    assert everything.status_code == 422 and "entity" in everything.get_json()["errors"]["query"]


def test_changes_made_inside_a_savepoint_commit_with_their_audit_records(db):
    """The deferred check matches the top-level transaction, so savepoints (per-row imports) work."""
    with db.session.begin_nested():
        db.session.add(Study(code="NESTED", title="Inside a savepoint"))
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Study)) == 1


def test_a_reason_never_carries_over_to_the_next_transaction(db):
    study = StudyFactory(title="One")
    db.session.info["audit_reason"] = "amendment 1"
    study.title = "Two"
    db.session.commit()
    study.title = "Three"
    db.session.commit()
    updates = db.session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "update")
                                 .order_by(AuditRecord.id)).all()
    assert [u.reason for u in updates] == ["amendment 1", None]
