"""Job leases: owner and expiry of a running job

Revision ID: c3a9f2d18e57
Revises: b7d41e0a9c3f
Create Date: 2026-11-28 09:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'c3a9f2d18e57'
down_revision = 'b7d41e0a9c3f'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('autodocs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_owner', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_autodocs_lease_expires_at'), ['lease_expires_at'], unique=False)
    # Jobs left running by the old code have no lease: give them an expired
    # one, so the sweeper queues them again.
    op.execute(
        "UPDATE autodocs SET lease_expires_at = COALESCE(started_at, queued_at) "
        "WHERE status = 'running'"
    )


def downgrade():
    with op.batch_alter_table('autodocs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_autodocs_lease_expires_at'))
        batch_op.drop_column('lease_expires_at')
        batch_op.drop_column('lease_owner')
