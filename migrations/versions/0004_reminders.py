"""Reminders outbox, delivery attempts, devices, patient zone history; contact columns; staff outbox claims

- reminders: the patient reminder outbox (status, send_at, claim and lease of the dispatcher); a partial
  unique index keeps one live reminder per event, rule and instant, so planning twice writes nothing.
- delivery_attempts: every try at sending a reminder or a staff message (append-only).
- devices: push tokens; patient_timezone_changes: the history of a patient's zone.
- patients.phone / patients.email, users.email: routes for SMS and e-mail (nullable).
- staff_notifications.claim_id / lease_until: the staff outbox is claimed like reminders.

Reminders are operational, not clinical data: no audit trigger on these tables.

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-22 01:57:06.345445

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('devices',
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('platform', sa.String(length=10), nullable=False),
    sa.Column('token', sa.String(length=512), nullable=False),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('retired_reason', sa.String(length=200), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint("platform IN ('ios', 'android')", name=op.f('ck_devices_platform_known')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_devices_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_devices')),
    sa.UniqueConstraint('token', name=op.f('uq_devices_token'))
    )
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.create_index('ix_devices_patient_active', ['patient_id', 'retired_at'], unique=False)

    op.create_table('patient_timezone_changes',
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('old_timezone', sa.String(length=64), nullable=True),
    sa.Column('new_timezone', sa.String(length=64), nullable=True),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('changed_by', sa.Uuid(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['changed_by'], ['users.id'], name=op.f('fk_patient_timezone_changes_changed_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_patient_timezone_changes_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patient_timezone_changes'))
    )
    with op.batch_alter_table('patient_timezone_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patient_timezone_changes_patient_id'), ['patient_id'], unique=False)

    op.create_table('reminders',
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('event_id', sa.Uuid(), nullable=False),
    sa.Column('rule', sa.String(length=40), nullable=False),
    sa.Column('audience', sa.String(length=10), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('target_date', sa.Date(), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('send_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('claim_id', sa.Uuid(), nullable=True),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('provider_message_id', sa.String(length=200), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint("audience IN ('patient', 'staff')", name=op.f('ck_reminders_audience_known')),
    sa.CheckConstraint("status IN ('scheduled', 'queued', 'sending', 'sent', 'delivered', 'failed', 'cancelled')", name=op.f('ck_reminders_status_known')),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_reminders_event_id_events')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_reminders_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reminders'))
    )
    with op.batch_alter_table('reminders', schema=None) as batch_op:
        batch_op.create_index('ix_reminders_due', ['status', 'send_at'], unique=False)
        batch_op.create_index('ix_reminders_event', ['event_id'], unique=False)
        batch_op.create_index('ix_reminders_patient_send_at', ['patient_id', 'send_at'], unique=False)
        batch_op.create_index('uq_reminders_event_rule_send_at', ['event_id', 'rule', 'send_at'], unique=True, postgresql_where=sa.text("status <> 'cancelled'"), sqlite_where=sa.text("status <> 'cancelled'"))

    op.create_table('delivery_attempts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('reminder_id', sa.Uuid(), nullable=True),
    sa.Column('staff_notification_id', sa.Uuid(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('provider_message_id', sa.String(length=200), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.CheckConstraint("outcome IN ('sent', 'transient', 'permanent', 'recipient_gone', 'ambiguous', 'no_route')", name=op.f('ck_delivery_attempts_outcome_known')),
    sa.CheckConstraint('(reminder_id IS NULL) <> (staff_notification_id IS NULL)', name=op.f('ck_delivery_attempts_one_subject')),
    sa.ForeignKeyConstraint(['reminder_id'], ['reminders.id'], name=op.f('fk_delivery_attempts_reminder_id_reminders')),
    sa.ForeignKeyConstraint(['staff_notification_id'], ['staff_notifications.id'], name=op.f('fk_delivery_attempts_staff_notification_id_staff_notifications')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_delivery_attempts'))
    )
    with op.batch_alter_table('delivery_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delivery_attempts_reminder_id'), ['reminder_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_delivery_attempts_staff_notification_id'), ['staff_notification_id'], unique=False)

    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('email', sa.String(length=254), nullable=True))

    with op.batch_alter_table('staff_notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claim_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email', sa.String(length=254), nullable=True))



def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('email')

    with op.batch_alter_table('staff_notifications', schema=None) as batch_op:
        batch_op.drop_column('lease_until')
        batch_op.drop_column('claim_id')

    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_column('email')
        batch_op.drop_column('phone')

    with op.batch_alter_table('delivery_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delivery_attempts_staff_notification_id'))
        batch_op.drop_index(batch_op.f('ix_delivery_attempts_reminder_id'))

    op.drop_table('delivery_attempts')
    with op.batch_alter_table('reminders', schema=None) as batch_op:
        batch_op.drop_index('uq_reminders_event_rule_send_at', postgresql_where=sa.text("status <> 'cancelled'"), sqlite_where=sa.text("status <> 'cancelled'"))
        batch_op.drop_index('ix_reminders_patient_send_at')
        batch_op.drop_index('ix_reminders_event')
        batch_op.drop_index('ix_reminders_due')

    op.drop_table('reminders')
    with op.batch_alter_table('patient_timezone_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patient_timezone_changes_patient_id'))

    op.drop_table('patient_timezone_changes')
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_index('ix_devices_patient_active')

    op.drop_table('devices')
