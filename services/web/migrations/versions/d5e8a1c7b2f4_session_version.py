"""Users: session version, bumped to end every session

Revision ID: d5e8a1c7b2f4
Revises: c3a9f2d18e57
Create Date: 2026-11-28 10:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'd5e8a1c7b2f4'
down_revision = 'c3a9f2d18e57'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), nullable=False, server_default='0'))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('session_version')
