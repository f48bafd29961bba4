"""New events are checked against the audit trail once per statement, not once per row at COMMIT

An import writes ~380 events per patient; the deferred per-row check of `events` (0006_sessions, 0007)
queued each of them and ran one PL/pgSQL call and two index probes per row at COMMIT. INSERTs into
`events` are now checked by a statement-level AFTER INSERT trigger over the statement's new rows (a
transition table; it fires for COPY too): one set-based query against the audit records of the
transaction, found through the new index `ix_audit_records_transaction (transaction_id, entity)`.
Not deferrable, so the audit record (the event's own, or its patient's calendar record) must be
written before the events, in the same transaction. UPDATE and DELETE keep the deferred per-row
check. The guarantee is unchanged: an event without its audit record in the same transaction is
never committed.

Revision ID: 0009_event_inserts
Revises: 0008_worklist_versions
Create Date: 2026-12-06 20:00:00

"""
from alembic import op


revision = '0009_event_inserts'
down_revision = '0008_worklist_versions'
branch_labels = None
depends_on = None

# The audit records of this transaction are read once (the new index), hashed, and every new row
# looked up by its id and by its patient's id. Seqscans off as in 0007 (a plan made while the trail
# looked tiny never scans it whole); nested loops off (a row estimate of 1 for the records must not
# become one pass over them per new event); JIT off (the seqscan penalty inflates the cost estimate
# into JIT territory: ~150 ms of compiling for a ~20 ms check of 35,000 rows).
INSERT_CHECK = """
CREATE OR REPLACE FUNCTION event_inserts_audited() RETURNS trigger AS $$
DECLARE
    missing text;
BEGIN
    WITH audited AS MATERIALIZED (
        SELECT a.entity_id FROM audit_records a
        WHERE a.transaction_id = txid_current() AND a.entity = 'events'
    )
    SELECT n.id::text INTO missing FROM inserted_events n
    WHERE NOT EXISTS (SELECT 1 FROM audited WHERE audited.entity_id = n.id::text)
      AND NOT EXISTS (SELECT 1 FROM audited WHERE audited.entity_id = n.patient_id::text)
    LIMIT 1;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'change to events.% has no audit record in its transaction', missing;
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql SET enable_seqscan = off SET enable_nestloop = off SET jit = off;

DROP TRIGGER events_audited ON events;
CREATE CONSTRAINT TRIGGER events_audited AFTER UPDATE OR DELETE ON events
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION event_audit_record_required();
CREATE TRIGGER events_inserts_audited AFTER INSERT ON events
    REFERENCING NEW TABLE AS inserted_events
    FOR EACH STATEMENT EXECUTE FUNCTION event_inserts_audited();
"""

PREVIOUS_CHECK = """
DROP TRIGGER IF EXISTS events_inserts_audited ON events;
DROP FUNCTION IF EXISTS event_inserts_audited();
DROP TRIGGER events_audited ON events;
CREATE CONSTRAINT TRIGGER events_audited AFTER INSERT OR UPDATE OR DELETE ON events
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION event_audit_record_required();
"""


def upgrade():
    op.create_index('ix_audit_records_transaction', 'audit_records', ['transaction_id', 'entity'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(INSERT_CHECK)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PREVIOUS_CHECK)
    op.drop_index('ix_audit_records_transaction', table_name='audit_records')
