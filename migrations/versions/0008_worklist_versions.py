"""Worklist versions: a stamp per patient that moves whenever anything a site's worklist reads of them changes

`worklist_versions` holds, per patient, their site and a stamp drawn from one sequence. On PostgreSQL,
statement-level triggers stamp it in the writer's transaction whenever the patient row, their calendar
(through `calendar_versions`, which the triggers on `events` bump), their symptom alerts, tumour
assessments or outcomes change, whoever writes them. A site's worklist is then known unchanged from
one indexed read (count, sum and largest stamp of its patients: a new stamp is larger than every
earlier one, and a patient leaving the site lowers the count and the sum), so a worklist already made
is served again instead of derived anew (backend.services.worklist_cache). Also: deleting events now
bumps the calendar version too. Operational, not audited.

Revision ID: 0008_worklist_versions
Revises: 0007_import
Create Date: 2026-12-06 14:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0008_worklist_versions'
down_revision = '0007_import'
branch_labels = None
depends_on = None

STAMP_FUNCTIONS = """
CREATE OR REPLACE FUNCTION worklist_versions_stamp() RETURNS trigger AS $$
BEGIN
    INSERT INTO worklist_versions (patient_id, site_id, version)
    SELECT p.id, p.site_id, nextval('worklist_version_stamps') FROM patients p
    WHERE p.id IN (SELECT patient_id FROM changed_rows)
    ON CONFLICT (patient_id) DO UPDATE SET site_id = EXCLUDED.site_id, version = EXCLUDED.version;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION worklist_versions_stamp_patients() RETURNS trigger AS $$
BEGIN
    INSERT INTO worklist_versions (patient_id, site_id, version)
    SELECT id, site_id, nextval('worklist_version_stamps') FROM changed_rows
    ON CONFLICT (patient_id) DO UPDATE SET site_id = EXCLUDED.site_id, version = EXCLUDED.version;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
"""
#: Tables whose rows name a patient: each gets one trigger per kind of change (PostgreSQL allows a
#: transition table on a trigger of one event only).
PATIENT_TABLES = ("calendar_versions", "symptom_alerts", "tumour_assessments", "patient_outcomes")
CHANGES = {"insert": ("INSERT", "NEW"), "update": ("UPDATE", "NEW"), "delete": ("DELETE", "OLD")}


def _trigger(table: str, name: str, function: str) -> str:
    event, side = CHANGES[name]
    return (f"CREATE TRIGGER {table}_worklist_version_{name} AFTER {event} ON {table} "
            f"REFERENCING {side} TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION {function}()")


def upgrade():
    op.create_table('worklist_versions',
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('site_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_worklist_versions_patient_id_patients'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('patient_id', name=op.f('pk_worklist_versions'))
    )
    with op.batch_alter_table('worklist_versions', schema=None) as batch_op:
        batch_op.create_index('ix_worklist_versions_site', ['site_id', 'version'], unique=False)
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE SEQUENCE worklist_version_stamps")
    op.execute(STAMP_FUNCTIONS)
    for table in PATIENT_TABLES:
        for name in CHANGES:
            op.execute(_trigger(table, name, "worklist_versions_stamp"))
    for name in ("insert", "update"):
        op.execute(_trigger("patients", name, "worklist_versions_stamp_patients"))
    op.execute("CREATE TRIGGER events_calendar_version_delete AFTER DELETE ON events "
               "REFERENCING OLD TABLE AS changed_events FOR EACH STATEMENT EXECUTE FUNCTION calendar_versions_bump()")
    op.execute("INSERT INTO worklist_versions (patient_id, site_id, version) "
               "SELECT id, site_id, nextval('worklist_version_stamps') FROM patients")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS events_calendar_version_delete ON events")
        for table in (*PATIENT_TABLES, "patients"):
            for name in CHANGES:
                op.execute(f"DROP TRIGGER IF EXISTS {table}_worklist_version_{name} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS worklist_versions_stamp()")
        op.execute("DROP FUNCTION IF EXISTS worklist_versions_stamp_patients()")
    op.drop_table('worklist_versions')
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SEQUENCE IF EXISTS worklist_version_stamps")
