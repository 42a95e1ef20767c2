"""Searching documents by name and body.

Revision ID: 2c9e7a5f1d43
Revises: 1b8d6f4e0c32
"""

import sqlalchemy as sa
from alembic import op

revision = '2c9e7a5f1d43'
down_revision = '1b8d6f4e0c32'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
