"""Cheaper to write: two redundant indexes of `events` go, and audit changes are compressed with lz4

Every new event updated seven indexes. Two of them, (patient_id, target_date) and (patient_id,
updated_at), serve only reads of one patient's events, which `uq_events_patient_key` serves as well
through its leading column: a calendar is a few hundred rows, filtered and sorted in memory. An
import writes ~380 events per patient, so they cost it about a millisecond a patient.

The audit record of a new calendar names every event (tens of kilobytes of JSON): PostgreSQL's
default compression (pglz) spent about three times as long on it as lz4 does, for a similar size.
Only records written from now on are compressed with lz4; both read the same.

Revision ID: 0010_import_speed
Revises: 0009_event_inserts
Create Date: 2026-12-06 23:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0010_import_speed'
down_revision = '0009_event_inserts'
branch_labels = None
depends_on = None

_LZ4_AVAILABLE = "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"


def _set_compression(method: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql" and bind.execute(sa.text(_LZ4_AVAILABLE)).scalar():
        op.execute(f"ALTER TABLE audit_records ALTER COLUMN changes SET COMPRESSION {method}")


def upgrade():
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_patient_updated')
        batch_op.drop_index('ix_events_patient_target')
    _set_compression("lz4")


def downgrade():
    _set_compression("pglz")
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('ix_events_patient_target', ['patient_id', 'target_date'], unique=False)
        batch_op.create_index('ix_events_patient_updated', ['patient_id', 'updated_at'], unique=False)
