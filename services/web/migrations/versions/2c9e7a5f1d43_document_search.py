"""Searching documents by name and body.

A GIN index on the documents' words, for PostgreSQL's full-text search
(docdraft.documents.listing.SEARCH_VECTOR is the same expression; the planner
uses the index only while the two match). SQLite has no such index: its
search is a LIKE scan, and this migration does nothing there.

Revision ID: 2c9e7a5f1d43
Revises: 1b8d6f4e0c32
"""

from alembic import op

revision = "2c9e7a5f1d43"
down_revision = "1b8d6f4e0c32"
branch_labels = None
depends_on = None

INDEX = "ix_documents_search"


def _postgresql():
    return op.get_bind().dialect.name == "postgresql"


def upgrade():
    if _postgresql():
        op.execute(
            f"CREATE INDEX {INDEX} ON documents USING gin "
            "(to_tsvector('simple'::regconfig, name || ' ' || body))"
        )


def downgrade():
    if _postgresql():
        op.execute(f"DROP INDEX {INDEX}")
