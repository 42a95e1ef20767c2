"""Several suggestions per revision: mode, length, seed, weights, detail

Revision ID: f7a3c9e2b1d8
Revises: e1f4b6a9c0d3
Create Date: 2026-11-28 11:50:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'f7a3c9e2b1d8'
down_revision = 'e1f4b6a9c0d3'
branch_labels = None
depends_on = None

PENDING = sa.text("status IN ('queued', 'running')")
# SQLite named the first migration's unique constraint nothing; batch mode
# finds it through this convention. PostgreSQL named it itself.
SQLITE_NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _unique_name():
    if op.get_bind().dialect.name == "sqlite":
        return "uq_autodocs_revision_id"
    return "autodocs_revision_id_key"


def upgrade():
    with op.batch_alter_table('autodocs', naming_convention=SQLITE_NAMES) as batch_op:
        batch_op.drop_constraint(_unique_name(), type_='unique')
        batch_op.add_column(sa.Column('mode', sa.String(length=10), nullable=False, server_default='beam'))
        batch_op.add_column(sa.Column('length', sa.String(length=10), nullable=False, server_default='medium'))
        batch_op.add_column(sa.Column('seed', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('weights_sha256', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('detail', sa.String(length=40), nullable=True))
        batch_op.create_index(batch_op.f('ix_autodocs_revision_id'), ['revision_id'], unique=False)
    op.create_index(
        'uq_autodocs_one_pending_per_revision', 'autodocs', ['revision_id'], unique=True,
        sqlite_where=PENDING, postgresql_where=PENDING,
    )


def downgrade():
    op.drop_index('uq_autodocs_one_pending_per_revision', table_name='autodocs')
    # Keep the newest suggestion of each revision, as the schema before allowed one.
    op.execute(
        "DELETE FROM autodocs WHERE id NOT IN "
        "(SELECT MAX(id) FROM autodocs GROUP BY revision_id)"
    )
    with op.batch_alter_table('autodocs', naming_convention=SQLITE_NAMES) as batch_op:
        batch_op.drop_index(batch_op.f('ix_autodocs_revision_id'))
        batch_op.drop_column('detail')
        batch_op.drop_column('weights_sha256')
        batch_op.drop_column('seed')
        batch_op.drop_column('length')
        batch_op.drop_column('mode')
        batch_op.create_unique_constraint(_unique_name(), ['revision_id'])
