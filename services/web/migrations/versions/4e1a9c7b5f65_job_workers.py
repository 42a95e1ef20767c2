"""Job workers: the processes that run jobs, as they last reported themselves.

One row per worker (its lease owner id), upserted when it starts and at every
heartbeat: its backend, batch size, rows in flight and last heartbeat, for
the admin's view of the queue (docdraft.jobs.queue).

Revision ID: 4e1a9c7b5f65
Revises: 3d0b8f6a2e54
"""

import sqlalchemy as sa
from alembic import op

revision = '4e1a9c7b5f65'
down_revision = '3d0b8f6a2e54'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'job_workers',
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('backend', sa.String(length=20), nullable=False),
        sa.Column('rows', sa.Integer(), nullable=False),
        sa.Column('running', sa.Integer(), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )
    with op.batch_alter_table('job_workers') as batch_op:
        batch_op.create_index('ix_job_workers_heartbeat_at', ['heartbeat_at'])


def downgrade():
    with op.batch_alter_table('job_workers') as batch_op:
        batch_op.drop_index('ix_job_workers_heartbeat_at')
    op.drop_table('job_workers')
