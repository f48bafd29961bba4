"""The deferred audit checks probe the audit trail by equality only, and never by a sequential scan

Every change to an audited table fires, at COMMIT, a check that an audit record of the same
transaction names the changed row (revisions 0001 and 0006_sessions). PL/pgSQL caches the check's plan
for the session; planned while `audit_records` looked tiny (a new database, autovacuum off, no
statistics), it is a sequential scan, kept while the table grows: one scan of the whole trail per
changed row at COMMIT, quadratic, minutes for an import of a few hundred patients. Both checks now run
with `enable_seqscan = off`, so every plan of them is an index probe of `ix_audit_records_entity`
whatever the statistics say, and the check of `events` makes one equality probe per candidate id (the
event's, then its patient's) instead of an IN list. The guarantee is unchanged: a change without its
audit record in the same transaction still fails to commit.

Revision ID: 0007_import
Revises: 0006_speed
Create Date: 2026-12-06 03:30:00

"""
from alembic import op


revision = '0007_import'
down_revision = '0006_speed'
branch_labels = None
depends_on = None

CHECKS = """
CREATE OR REPLACE FUNCTION audit_record_required() RETURNS trigger AS $$
DECLARE
    table_name text := TG_TABLE_NAME;
    changed_id text;
BEGIN
    IF TG_OP = 'DELETE' THEN changed_id := OLD.id::text; ELSE changed_id := NEW.id::text; END IF;
    IF NOT EXISTS (
        SELECT 1 FROM audit_records a
        WHERE a.entity = table_name AND a.entity_id = changed_id AND a.transaction_id = txid_current()
    ) THEN
        RAISE EXCEPTION 'change to %.% has no audit record in its transaction', table_name, changed_id;
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql SET enable_seqscan = off;

CREATE OR REPLACE FUNCTION event_audit_record_required() RETURNS trigger AS $$
DECLARE
    row_id text;
    owner_id text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        row_id := OLD.id::text; owner_id := OLD.patient_id::text;
    ELSE
        row_id := NEW.id::text; owner_id := NEW.patient_id::text;
    END IF;
    -- The event's own record (the API's writes: enrolment, recording, re-plans), else the record of
    -- its patient's calendar (an imported calendar: one record naming all its events).
    IF EXISTS (SELECT 1 FROM audit_records a WHERE a.entity = 'events' AND a.entity_id = row_id
                                                AND a.transaction_id = txid_current())
       OR EXISTS (SELECT 1 FROM audit_records a WHERE a.entity = 'events' AND a.entity_id = owner_id
                                                   AND a.transaction_id = txid_current()) THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'change to events.% has no audit record in its transaction', row_id;
END $$ LANGUAGE plpgsql SET enable_seqscan = off;
"""

PREVIOUS_CHECKS = """
CREATE OR REPLACE FUNCTION audit_record_required() RETURNS trigger AS $$
DECLARE
    changed_id text;
BEGIN
    IF TG_OP = 'DELETE' THEN changed_id := OLD.id::text; ELSE changed_id := NEW.id::text; END IF;
    IF NOT EXISTS (
        SELECT 1 FROM audit_records a
        WHERE a.entity = TG_TABLE_NAME AND a.entity_id = changed_id
          AND a.transaction_id = txid_current()
    ) THEN
        RAISE EXCEPTION 'change to %.% has no audit record in its transaction', TG_TABLE_NAME, changed_id;
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION event_audit_record_required() RETURNS trigger AS $$
DECLARE
    row_id text;
    owner_id text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        row_id := OLD.id::text; owner_id := OLD.patient_id::text;
    ELSE
        row_id := NEW.id::text; owner_id := NEW.patient_id::text;
    END IF;
    IF NOT EXISTS (
        SELECT 1 FROM audit_records a
        WHERE a.entity = 'events' AND a.entity_id IN (row_id, owner_id)
          AND a.transaction_id = txid_current()
    ) THEN
        RAISE EXCEPTION 'change to events.% has no audit record in its transaction', row_id;
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;
"""


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(CHECKS)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PREVIOUS_CHECKS)
