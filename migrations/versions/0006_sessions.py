"""Sign-ins and the security log; the audit trail cannot be truncated; events need their audit record; case-insensitive usernames

- `sign_ins`: one row per sign-in (session family); tokens carry its id, so sign-out revokes every
  token of that sign-in, and only its newest refresh token is live. Replaces `revoked_tokens`.
- `security_events`: sign-ins, failed sign-ins, sign-outs, device registrations (append-only, like
  the audit trail: UPDATE, DELETE and TRUNCATE are refused by triggers).
- `audit_records` refuses TRUNCATE too (a statement trigger), whoever the caller.
- `events` gets the deferred "no change without an audit record" check. Calendars are written in
  bulk with one audit record per patient and kind of change (entity `events`, entity id the
  patient's), single visits through the ORM with one record per event: either satisfies it.
- usernames are unique whatever their case (`lower(username)`). The upgrade fails, naming them, if
  two accounts already differ only by case: merge or rename one first.

Grants for a restricted application role are applied by migrations/env.py after every upgrade.

Revision ID: 0006_sessions
Revises: 0005
Create Date: 2026-12-06 00:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0006_sessions'
down_revision = '0006_records'
branch_labels = None
depends_on = None

GUARDS = """
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

CREATE CONSTRAINT TRIGGER events_audited AFTER INSERT OR UPDATE OR DELETE ON events
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION event_audit_record_required();

CREATE TRIGGER audit_records_no_truncate BEFORE TRUNCATE ON audit_records
    FOR EACH STATEMENT EXECUTE FUNCTION audit_records_append_only();

CREATE OR REPLACE FUNCTION security_events_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the security log is append-only (% refused)', TG_OP;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER security_events_append_only BEFORE UPDATE OR DELETE ON security_events
    FOR EACH ROW EXECUTE FUNCTION security_events_append_only();
CREATE TRIGGER security_events_no_truncate BEFORE TRUNCATE ON security_events
    FOR EACH STATEMENT EXECUTE FUNCTION security_events_append_only();
"""

DROP_GUARDS = """
DROP TRIGGER IF EXISTS security_events_no_truncate ON security_events;
DROP TRIGGER IF EXISTS security_events_append_only ON security_events;
DROP FUNCTION IF EXISTS security_events_append_only();
DROP TRIGGER IF EXISTS audit_records_no_truncate ON audit_records;
DROP TRIGGER IF EXISTS events_audited ON events;
DROP FUNCTION IF EXISTS event_audit_record_required();
"""


def upgrade():
    clashes = op.get_bind().execute(sa.text(
        "SELECT lower(username) FROM users GROUP BY lower(username) HAVING count(*) > 1")).scalars().all()
    if clashes:
        raise RuntimeError("usernames that differ only by case must be merged or renamed before upgrading: "
                           + ", ".join(sorted(clashes)))
    with op.batch_alter_table('revoked_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_revoked_tokens_expires_at'))
    op.drop_table('revoked_tokens')

    op.create_table('sign_ins',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('refresh_jti', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('refreshed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_reason', sa.String(length=40), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_sign_ins_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_ins'))
    )
    with op.batch_alter_table('sign_ins', schema=None) as batch_op:
        batch_op.create_index('ix_sign_ins_user_live', ['user_id'], unique=False,
                              postgresql_where=sa.text('revoked_at IS NULL'), sqlite_where=sa.text('revoked_at IS NULL'))

    op.create_table('security_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=True),
    sa.Column('actor_id', sa.Uuid(), nullable=True),
    sa.Column('sign_in_id', sa.Uuid(), nullable=True),
    sa.Column('address', sa.String(length=64), nullable=True),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('detail', sa.String(length=80), nullable=True),
    sa.CheckConstraint("kind IN ('sign_in', 'sign_in_failed', 'sign_out', 'sign_out_everywhere', 'sessions_revoked', "
                       "'refresh_reused', 'device_registered', 'account_activated')",
                       name=op.f('ck_security_events_kind_known')),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_security_events_actor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_security_events_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_security_events'))
    )
    with op.batch_alter_table('security_events', schema=None) as batch_op:
        batch_op.create_index('ix_security_events_user_at', ['user_id', 'at'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index('uq_users_username_lower', [sa.text('lower(username)')], unique=True)

    if op.get_bind().dialect.name == "postgresql":
        op.execute(GUARDS)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(DROP_GUARDS)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index('uq_users_username_lower')
    with op.batch_alter_table('security_events', schema=None) as batch_op:
        batch_op.drop_index('ix_security_events_user_at')
    op.drop_table('security_events')
    with op.batch_alter_table('sign_ins', schema=None) as batch_op:
        batch_op.drop_index('ix_sign_ins_user_live', postgresql_where=sa.text('revoked_at IS NULL'),
                            sqlite_where=sa.text('revoked_at IS NULL'))
    op.drop_table('sign_ins')
    op.create_table('revoked_tokens',
    sa.Column('jti', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=True),
    sa.Column('token_type', sa.String(length=10), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_revoked_tokens_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('jti', name=op.f('pk_revoked_tokens'))
    )
    with op.batch_alter_table('revoked_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_revoked_tokens_expires_at'), ['expires_at'], unique=False)
