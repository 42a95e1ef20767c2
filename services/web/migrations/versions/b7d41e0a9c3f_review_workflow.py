"""Review workflow: review state, head revision, archive, provenance, events

Revision ID: b7d41e0a9c3f
Revises: 92b22cf7c0a2
Create Date: 2026-11-28 09:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'b7d41e0a9c3f'
down_revision = '92b22cf7c0a2'
branch_labels = None
depends_on = None

REVIEW_STATES = ('draft', 'in_review', 'changes_requested', 'approved')
EVENT_KINDS = ('revision', 'accept', 'dismiss', 'transition', 'comment',
               'reassignment', 'rename', 'archive', 'restore')


def upgrade():
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('head_revision', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('review_state', sa.Enum(*REVIEW_STATES, name='review_state', native_enum=False, length=24), nullable=False, server_default='draft'))
        batch_op.add_column(sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_documents_review_state'), ['review_state'], unique=False)
        batch_op.create_index(batch_op.f('ix_documents_archived_at'), ['archived_at'], unique=False)
    # Existing documents: the head is their highest revision number.
    op.execute(
        "UPDATE documents SET head_revision = COALESCE("
        "(SELECT MAX(number) FROM revisions WHERE revisions.document_id = documents.id), 0)"
    )

    with op.batch_alter_table('revisions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('machine_spans', sa.JSON(), nullable=True))

    with op.batch_alter_table('autodocs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prompt_tokens', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('prompt_tokens_cut', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('dismissed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('dismissed_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_autodocs_dismissed_by_id_users', 'users', ['dismissed_by_id'], ['id'])

    op.create_table('document_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum(*EVENT_KINDS, name='event_kind', native_enum=False, length=16), nullable=False),
    sa.Column('revision_number', sa.Integer(), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('document_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_document_events_document_id'), ['document_id'], unique=False)
    # Existing revisions become timeline entries.
    op.execute(
        "INSERT INTO document_events (document_id, actor_id, kind, revision_number, created_at) "
        "SELECT document_id, author_id, 'revision', number, created_at FROM revisions"
    )


def downgrade():
    with op.batch_alter_table('document_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_document_events_document_id'))
    op.drop_table('document_events')

    with op.batch_alter_table('autodocs', schema=None) as batch_op:
        batch_op.drop_constraint('fk_autodocs_dismissed_by_id_users', type_='foreignkey')
        batch_op.drop_column('dismissed_by_id')
        batch_op.drop_column('dismissed_at')
        batch_op.drop_column('prompt_tokens_cut')
        batch_op.drop_column('prompt_tokens')

    with op.batch_alter_table('revisions', schema=None) as batch_op:
        batch_op.drop_column('machine_spans')

    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_documents_archived_at'))
        batch_op.drop_index(batch_op.f('ix_documents_review_state'))
        batch_op.drop_column('archived_at')
        batch_op.drop_column('review_state')
        batch_op.drop_column('head_revision')
