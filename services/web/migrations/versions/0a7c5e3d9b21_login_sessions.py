"""Login sessions: one row per login, ended on the server.

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
    pass


def downgrade():
    pass
