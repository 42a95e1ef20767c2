"""Login sessions: one row per login, ended on the server.

Ending rows replaces the per-user session version, which is dropped.

Revision ID: 0a7c5e3d9b21
Revises: f7a3c9e2b1d8
"""

import sqlalchemy as sa
from alembic import op

revision = '0a7c5e3d9b21'
down_revision = 'f7a3c9e2b1d8'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'login_sessions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('secret_hash', sa.String(length=64), nullable=False),
        sa.Column('device', sa.String(length=60), nullable=False),
        sa.Column('address', sa.String(length=64), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('secret_hash'),
    )
    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_login_sessions_user_id'), ['user_id'], unique=False
        )
    # Every cookie issued before carries a session version, not a session
    # secret: it stops working, and everyone logs in once more.
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('session_version')


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                'session_version', sa.Integer(), nullable=False, server_default='0'
            )
        )
    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_sessions_user_id'))
    op.drop_table('login_sessions')
