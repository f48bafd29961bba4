"""Site subdivisions for regional holidays and per-patient calendar-feed secrets

A site's optional ISO 3166-2 subdivision (e.g. "ENG") selects regional public holidays for its
clinic calendar; NULL keeps the country's default (GB sites plan with English bank holidays).
A patient's calendar_feed_hash is the SHA-256 of the secret in their calendar-subscription URL.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 01:54:37.478733

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('calendar_feed_hash', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_patients_calendar_feed_hash'), ['calendar_feed_hash'])

    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.add_column(sa.Column('subdivision', sa.String(length=10), nullable=True))


def downgrade():
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.drop_column('subdivision')

    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_patients_calendar_feed_hash'), type_='unique')
        batch_op.drop_column('calendar_feed_hash')
