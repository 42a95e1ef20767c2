"""Training consent and the model registry.

Documents gain `train_consent` (off), sponsors a default for it. The registry:
`language_models` (the deployment's base model and models trained here, with
lineage, status, metrics and a training job's progress and lease), their
audience (the sponsors whose documents trained them) and which trained model
writes each sponsor's suggestions (`model_activations`, one per sponsor).

Revision ID: 6a1c2e9d4b70
Revises: 5f2b0d8c6a76
"""

import sqlalchemy as sa
from alembic import op

revision = '6a1c2e9d4b70'
down_revision = '5f2b0d8c6a76'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('language_models',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('origin', sa.Enum('seed', 'hub', 'local', 'trained', name='model_origin', native_enum=False, length=16), nullable=False),
    sa.Column('reference', sa.String(length=1000), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('base_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('training', 'ready', 'failed', 'cancelled', name='model_status', native_enum=False, length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('metrics', sa.JSON(), nullable=True),
    sa.Column('progress', sa.JSON(), nullable=True),
    sa.Column('error', sa.String(length=2000), nullable=True),
    sa.Column('max_minutes', sa.Integer(), nullable=True),
    sa.Column('lease_owner', sa.String(length=120), nullable=True),
    sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancel_requested', sa.Boolean(), server_default=sa.text('(false)'), nullable=False),
    sa.ForeignKeyConstraint(['base_id'], ['language_models.id'], ),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sha256')
    )
    with op.batch_alter_table('language_models', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_language_models_base_id'), ['base_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_language_models_lease_expires_at'), ['lease_expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_language_models_status'), ['status'], unique=False)

    op.create_table('model_activations',
    sa.Column('sponsor_id', sa.Integer(), nullable=False),
    sa.Column('model_id', sa.Integer(), nullable=False),
    sa.Column('activated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('activated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['activated_by_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['model_id'], ['language_models.id'], ),
    sa.ForeignKeyConstraint(['sponsor_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('sponsor_id')
    )
    with op.batch_alter_table('model_activations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_model_activations_model_id'), ['model_id'], unique=False)

    op.create_table('model_audience',
    sa.Column('model_id', sa.Integer(), nullable=False),
    sa.Column('sponsor_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['model_id'], ['language_models.id'], ),
    sa.ForeignKeyConstraint(['sponsor_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('model_id', 'sponsor_id')
    )
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('train_consent', sa.Boolean(), server_default=sa.text('(false)'), nullable=False))

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('train_consent_default', sa.Boolean(), server_default=sa.text('(false)'), nullable=False))



def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('train_consent_default')

    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_column('train_consent')

    op.drop_table('model_audience')
    with op.batch_alter_table('model_activations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_model_activations_model_id'))

    op.drop_table('model_activations')
    with op.batch_alter_table('language_models', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_language_models_status'))
        batch_op.drop_index(batch_op.f('ix_language_models_lease_expires_at'))
        batch_op.drop_index(batch_op.f('ix_language_models_base_id'))

    op.drop_table('language_models')
