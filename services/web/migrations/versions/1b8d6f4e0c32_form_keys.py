"""One-time keys of create forms: a double submit makes one document.

Revision ID: 1b8d6f4e0c32
Revises: 0a7c5e3d9b21
"""

import sqlalchemy as sa
from alembic import op

revision = '1b8d6f4e0c32'
down_revision = '0a7c5e3d9b21'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('documents') as batch_op:
        batch_op.add_column(sa.Column('create_key', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(
            'uq_documents_create_key', ['sponsor_id', 'create_key']
        )


def downgrade():
    with op.batch_alter_table('documents') as batch_op:
        batch_op.drop_constraint('uq_documents_create_key', type_='unique')
        batch_op.drop_column('create_key')
