"""Jobs can be cancelled: the job status 'cancelled'.

Every enum here is stored as a VARCHAR (native_enum=False, no CHECK
constraint: see 92b22cf7c0a2), and 'cancelled' fits its 16 characters, so
existing databases need no change of type. A PostgreSQL database whose
job_status was made a native enum by hand gets the value added; ALTER TYPE
... ADD VALUE may not run inside a transaction block before PostgreSQL 12.

Revision ID: 5f2b0d8c6a76
Revises: 4e1a9c7b5f65
"""

import sqlalchemy as sa
from alembic import op

revision = "5f2b0d8c6a76"
down_revision = "4e1a9c7b5f65"
branch_labels = None
depends_on = None


def _native_job_status(bind):
    if bind.dialect.name != "postgresql":
        return False
    found = bind.execute(sa.text("SELECT 1 FROM pg_type WHERE typname = 'job_status'"))
    return found.scalar() is not None


def upgrade():
    if _native_job_status(op.get_bind()):
        with op.get_context().autocommit_block():
            op.execute("ALTER TYPE job_status ADD VALUE IF NOT EXISTS 'cancelled'")


def downgrade():
    # The older code knows no 'cancelled': such jobs become failed ones that
    # say why (an enum value cannot be dropped from a PostgreSQL type), and
    # a cancel in a timeline becomes a comment saying so.
    op.execute(
        "UPDATE autodocs SET status = 'failed', "
        "error = 'Cancelled before it was written.' WHERE status = 'cancelled'"
    )
    op.execute(
        "UPDATE document_events SET kind = 'comment', "
        "comment = 'Cancelled a suggestion.' WHERE kind = 'cancel'"
    )
