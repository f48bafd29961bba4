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


def test_events_inserted_behind_the_orms_back_are_refused_at_once(db):
    """Revision 0009: new events are checked by statement, not at commit; an audit record written
    after the events, even in the same transaction, is too late."""
    from tests.factories import SiteFactory
    from tests.factories_patients import enrol

    patient = enrol(SiteFactory())
    copy = ("INSERT INTO events (id, patient_id, key, kind, cycle, day, label, agents, protocol_date, target_date, "
            "window_start, window_end, flags, status, version, created_at, updated_at) "
            "SELECT gen_random_uuid(), patient_id, key || '+', kind, cycle, day, label, agents, protocol_date, "
            "target_date, window_start, window_end, flags, status, 1, now(), now() FROM events WHERE patient_id = :p")
    audit = ("INSERT INTO audit_records (at, role, action, entity, entity_id, changes) "
             "VALUES (now(), 'system', 'create', 'events', :p, '{}')")
    before = db.session.scalar(sa.text("SELECT count(*) FROM events"))
    for statements in ([copy], [copy, audit]):
        with pytest.raises(sa.exc.DBAPIError, match="has no audit record"):
            with db.engine.begin() as conn:
                for statement in statements:
                    conn.execute(sa.text(statement), {"p": str(patient.id)})
    with db.engine.begin() as conn:  # the calendar's record first: accepted
        conn.execute(sa.text(audit), {"p": str(patient.id)})
        conn.execute(sa.text(copy), {"p": str(patient.id)})
    assert db.session.scalar(sa.text("SELECT count(*) FROM events")) == 2 * before


def test_a_change_without_its_audit_record_cannot_be_committed(db):
    """Written behind the ORM's back (no audit record), the insert is refused at commit."""
    with pytest.raises(sa.exc.DBAPIError, match="has no audit record"):
        with db.engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO studies (id, code, title, assessment_interval_days, assessment_window_days, "
                "pfs_missed_rule, settings, created_at, updated_at) VALUES "
                "(gen_random_uuid(), 'SNEAK', 'x', 42, 7, 'visits', '{}', now(), now())"))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Study)) == 0


def test_the_commit_time_audit_checks_never_scan_the_trail(db):
    """Revision 0007: a plan cached while audit_records looked tiny (no statistics; autovacuum may be
    off) must not become one scan of the whole trail per changed row at COMMIT."""
    with db.engine.connect() as conn:
        settings = dict(conn.execute(sa.text(
            "SELECT proname, array_to_string(proconfig, ',') FROM pg_proc "
            "WHERE proname IN ('audit_record_required', 'event_audit_record_required')")).all())
    assert settings == {"audit_record_required": "enable_seqscan=off",
                        "event_audit_record_required": "enable_seqscan=off"}


def test_the_check_of_new_events_reads_the_transactions_records_once(db):
    """Revision 0009: never a scan of the trail, never one pass over the records per new event, no JIT."""
    with db.engine.connect() as conn:
        settings = conn.execute(sa.text(
            "SELECT array_to_string(proconfig, ',') FROM pg_proc WHERE proname = 'event_inserts_audited'")).scalar()
    assert settings == "enable_seqscan=off,enable_nestloop=off,jit=off"


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


# -- issue 9 item 8: every changed record findable by its own id, naming the user ----------------------

def test_each_event_a_re_plan_moved_is_found_by_its_own_id(client, auth):
    """A late cycle 1 day 1 re-plans the later doses in bulk: each moved event has its own audit rows,
    naming the nurse who recorded the visit and the reason given."""
    from datetime import timedelta

    from tests.factories import SiteFactory, staff_for
    from tests.factories_patients import enrol, events_by_key, site_today

    site = SiteFactory()
    staff = staff_for(site)
    patient = enrol(site, "INET-PAC", first_dose=site_today(site) - timedelta(days=10))
    events = events_by_key(patient.id)
    c1d1, c2d1 = events["dose:C1D1"], events["dose:C2D1"]
    answer = client.patch(f"/api/v1/patients/{patient.id}/events/{c1d1.id}", headers=auth.headers(staff["nurse"]),
                          json={"status": "completed", "actual_date": (patient.first_dose_date + timedelta(days=2))
                                .isoformat(), "reason": "Neutropenia recovered"})
    assert answer.status_code == 200, answer.get_json()
    for reader in ("admin", "coordinator"):
        trail = client.get(f"/api/v1/audit?entity=events&id={c2d1.id}", headers=auth.headers(staff[reader]))
        assert trail.status_code == 200, trail.get_json()
        rows = trail.get_json()
        assert [row["action"] for row in rows] == ["create", "update"]
        moved = rows[1]
        assert moved["entity"] == "events" and moved["entity_id"] == str(c2d1.id)
        assert moved["changes"]["protocol_date"]["after"] == (patient.first_dose_date + timedelta(days=23)).isoformat()
        assert moved["username"] == staff["nurse"].username and moved["role"] == "nurse"
        assert moved["reason"] == "Neutropenia recovered"
        assert set(moved) == {"id", "at", "user_id", "username", "role", "action", "entity", "entity_id",
                              "changes", "reason", "request_id"}
    created = client.get(f"/api/v1/audit?entity=event&id={c1d1.id}", headers=auth.headers(staff["admin"])).get_json()
    assert created[0]["action"] == "create" and created[0]["changes"]["key"]["after"] == "dose:C1D1"
    assert created[-1]["changes"]["status"] == {"before": "planned", "after": "completed"}


def test_patient_creation_names_its_study_and_site(client, auth):
    from tests.factories import SiteFactory, staff_for

    site = SiteFactory()
    nurse = staff_for(site)["nurse"]
    answer = client.post("/api/v1/patients", headers=auth.headers(nurse), json={
        "study": site.study.code, "site": site.code, "subject_id": "AUD-001", "regimen": "INET-PAC",
        "first_dose_date": "2026-01-05"})
    assert answer.status_code == 201, answer.get_json()
    trail = client.get(f"/api/v1/audit?entity=patients&id={answer.get_json()['id']}",
                       headers=auth.headers(UserFactory(role="admin"))).get_json()
    changes = trail[0]["changes"]
    assert changes["study_id"]["after"] == str(site.study.id)
    assert changes["site_id"]["after"] == str(site.id)
    assert trail[0]["username"] == nurse.username


@pytest.mark.parametrize("entity", ["patient", "patients", "events", "symptom_alerts", "alert", "tumour_assessments"])
def test_every_audited_entity_is_accepted_by_name(client, auth, entity):
    answer = client.get(f"/api/v1/audit?entity={entity}", headers=auth.headers(UserFactory(role="admin")))
    assert answer.status_code == 200, answer.get_json()


def test_an_unknown_entity_is_422_naming_the_valid_ones(client, auth):
    answer = client.get("/api/v1/audit?entity=visits&id=x", headers=auth.headers(UserFactory(role="admin")))
    assert answer.status_code == 422
    body = answer.get_json()
    assert body["reason"] == "unknown_entity"
    for name in ("patients", "events", "studies", "sites", "users", "symptom_alerts"):
        assert name in body["message"]
    assert "entity" in body["errors"]["query"]
