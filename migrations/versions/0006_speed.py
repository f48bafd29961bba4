"""Appointment times on clinic visits, the care team's contact details on sites, and a per-patient
calendar version for cheap conditional GETs

`events.appointment_time` / `appointment_location`: a booked visit's wall-clock time in the site's
zone and where. `sites.phone`, `hours`, `out_of_hours`: what patients see as their care team (texts per
language). `calendar_versions`: one counter per patient; on PostgreSQL two statement-level triggers
on `events` (insert, update) bump it in the same transaction as any event change, whoever writes it,
so `If-None-Match` on the calendar is answered from one indexed read. Operational, not audited.

Revision ID: 0006_speed
Revises: 0005
Create Date: 2026-12-06 00:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006_speed'
down_revision = '0006_push'
branch_labels = None
depends_on = None

BUMP_FUNCTION = """
CREATE OR REPLACE FUNCTION calendar_versions_bump() RETURNS trigger AS $$
BEGIN
    INSERT INTO calendar_versions (patient_id, version)
    SELECT DISTINCT patient_id, 1 FROM changed_events
    ON CONFLICT (patient_id) DO UPDATE SET version = calendar_versions.version + 1;
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""
TRIGGERS = {"insert": "INSERT", "update": "UPDATE"}


def upgrade():
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('appointment_time', sa.Time(), nullable=True))
        batch_op.add_column(sa.Column('appointment_location', sa.String(length=200), nullable=True))

    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('hours', sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
        batch_op.add_column(sa.Column('out_of_hours', sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.alter_column('hours', server_default=None)
        batch_op.alter_column('out_of_hours', server_default=None)

    op.create_table('calendar_versions',
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_calendar_versions_patient_id_patients')),
    sa.PrimaryKeyConstraint('patient_id', name=op.f('pk_calendar_versions'))
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(BUMP_FUNCTION)
        for name, event in TRIGGERS.items():
            op.execute(f"CREATE TRIGGER events_calendar_version_{name} AFTER {event} ON events "
                       f"REFERENCING NEW TABLE AS changed_events FOR EACH STATEMENT "
                       f"EXECUTE FUNCTION calendar_versions_bump()")
        op.execute("INSERT INTO calendar_versions (patient_id, version) SELECT DISTINCT patient_id, 1 FROM events")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for name in TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS events_calendar_version_{name} ON events")
        op.execute("DROP FUNCTION IF EXISTS calendar_versions_bump()")
    op.drop_table('calendar_versions')
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.drop_column('out_of_hours')
        batch_op.drop_column('hours')
        batch_op.drop_column('phone')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_column('appointment_location')
        batch_op.drop_column('appointment_time')
