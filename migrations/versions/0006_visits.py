"""Indexes for the site worklist: planned clinic visits by window, and a patient's events by kind and window end

Revision ID: 0006_visits
Revises: 0005
Create Date: 2026-12-06 00:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006_visits'
down_revision = '0005'
branch_labels = None
depends_on = None

PLANNED_VISITS = "status = 'planned' AND kind IN ('dose', 'tumor_assessment')"


def upgrade():
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('ix_events_planned_visits_window', ['window_start', 'window_end', 'patient_id'],
                              unique=False, postgresql_where=sa.text(PLANNED_VISITS),
                              sqlite_where=sa.text(PLANNED_VISITS))
        batch_op.create_index('ix_events_patient_kind_window_end', ['patient_id', 'kind', 'window_end'], unique=False)


def downgrade():
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_patient_kind_window_end')
        batch_op.drop_index('ix_events_planned_visits_window', postgresql_where=sa.text(PLANNED_VISITS),
                            sqlite_where=sa.text(PLANNED_VISITS))
