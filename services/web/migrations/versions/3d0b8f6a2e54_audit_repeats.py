"""Audit events count their repeats instead of storing each one.

`count` and `last_at` say how often and until when; `repeat_key` (unique)
finds the open row of a repeat, so that two processes recording the same
event at once count on one row (docdraft.audit). Existing rows count once.

Revision ID: 3d0b8f6a2e54
Revises: 2c9e7a5f1d43
"""

import sqlalchemy as sa
from alembic import op

revision = '3d0b8f6a2e54'
down_revision = '2c9e7a5f1d43'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit_events') as batch_op:
        batch_op.add_column(
            sa.Column('count', sa.Integer(), server_default=sa.text('1'), nullable=False)
        )
        batch_op.add_column(sa.Column('last_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('repeat_key', sa.String(length=64), nullable=True))
    op.execute('UPDATE audit_events SET last_at = created_at')
    with op.batch_alter_table('audit_events') as batch_op:
        batch_op.alter_column('last_at', existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.create_index('ix_audit_events_last_at', ['last_at'])
        batch_op.create_index('ix_audit_events_actor_id', ['actor_id'])
        batch_op.create_index('ix_audit_events_repeat_key', ['repeat_key'], unique=True)


def downgrade():
    with op.batch_alter_table('audit_events') as batch_op:
        batch_op.drop_index('ix_audit_events_repeat_key')
        batch_op.drop_index('ix_audit_events_actor_id')
        batch_op.drop_index('ix_audit_events_last_at')
        batch_op.drop_column('repeat_key')
        batch_op.drop_column('last_at')
        batch_op.drop_column('count')
