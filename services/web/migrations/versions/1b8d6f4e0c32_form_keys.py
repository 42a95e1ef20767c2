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
    pass


def downgrade():
    pass
