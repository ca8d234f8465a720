"""initial schema

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(sa.schema.CreateSequence(sa.Sequence('deployment_approve_order')))
    op.create_table('instances',
    sa.Column('id', sa.UUID(as_uuid=False), nullable=False),
    sa.Column('organization_id', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('project', sa.Text(), nullable=False),
    sa.Column('environment', sa.Text(), nullable=False),
    sa.Column('bundle', sa.Text(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('replicas', sa.Integer(), server_default='0', nullable=False),
    sa.Column('labels', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('params', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('connections', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('version_constraint', sa.Text(), server_default='', nullable=False),
    sa.Column('release_channel', sa.Text(), server_default='stable', nullable=False),
    sa.Column('bundle_release_id', sa.UUID(as_uuid=False), nullable=True),
    sa.Column('version', sa.Text(), nullable=True),
    sa.Column('pinned', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('active_deployment_id', sa.UUID(as_uuid=False), nullable=True),
    sa.Column('route_generation', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('event_seq', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('create_time', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('update_time', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_instances')),
    sa.UniqueConstraint('organization_id', 'project', 'environment', 'name', name='uq_instances_name')
    )
    op.create_index('ix_instances_org_created', 'instances', ['organization_id', 'create_time', 'id'], unique=False)
    op.create_table('releases',
    sa.Column('id', sa.UUID(as_uuid=False), nullable=False),
    sa.Column('organization_id', sa.Text(), nullable=False),
    sa.Column('bundle', sa.Text(), nullable=False),
    sa.Column('version', sa.Text(), nullable=False),
    sa.Column('release_channel', sa.Text(), nullable=False),
    sa.Column('artifact_uri', sa.Text(), nullable=False),
    sa.Column('state', sa.Text(), nullable=False),
    sa.Column('schema_version', sa.Integer(), server_default='0', nullable=False),
    sa.Column('artifact_deleted', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('create_time', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_releases')),
    sa.UniqueConstraint('organization_id', 'bundle', 'version', name='uq_releases_version')
    )
    op.create_index('ix_releases_org_created', 'releases', ['organization_id', 'create_time', 'id'], unique=False)
    op.create_table('deployments',
    sa.Column('id', sa.UUID(as_uuid=False), nullable=False),
    sa.Column('organization_id', sa.Text(), nullable=False),
    sa.Column('instance_id', sa.UUID(as_uuid=False), nullable=False),
    sa.Column('action', sa.Text(), nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('params', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('md_metadata', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('connection_params', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('bundle_release_id', sa.UUID(as_uuid=False), nullable=True),
    sa.Column('version', sa.Text(), nullable=True),
    sa.Column('release_channel', sa.Text(), nullable=True),
    sa.Column('message', sa.Text(), server_default='', nullable=False),
    sa.Column('rollback_of_id', sa.UUID(as_uuid=False), nullable=True),
    sa.Column('rollback_of_version', sa.Text(), nullable=True),
    sa.Column('plan', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('proposed_by', sa.Text(), nullable=False),
    sa.Column('decided_by', sa.Text(), nullable=True),
    sa.Column('decide_time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reject_reason', sa.Text(), server_default='', nullable=False),
    sa.Column('error', sa.Text(), server_default='', nullable=False),
    sa.Column('event_seq', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('approve_order', sa.BigInteger(), nullable=True),
    sa.Column('lease_owner', sa.Text(), nullable=True),
    sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('create_time', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('update_time', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['bundle_release_id'], ['releases.id'], name=op.f('fk_deployments_bundle_release_id_releases')),
    sa.ForeignKeyConstraint(['instance_id'], ['instances.id'], name=op.f('fk_deployments_instance_id_instances')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deployments'))
    )
    op.create_index('ix_deployments_instance_created', 'deployments', ['instance_id', 'create_time', 'id'], unique=False)
    op.create_index('ix_deployments_last_good', 'deployments', ['instance_id', 'action', 'status', 'create_time'], unique=False)
    op.create_index('ix_deployments_pending', 'deployments', ['instance_id', 'approve_order'], unique=False, postgresql_where=sa.text("status = 'PENDING'"))
    op.create_index('ix_deployments_running_lease', 'deployments', ['lease_expires_at'], unique=False, postgresql_where=sa.text("status = 'RUNNING'"))
    op.create_index('uq_deployments_one_running', 'deployments', ['instance_id'], unique=True, postgresql_where=sa.text("status = 'RUNNING'"))
    op.create_table('instance_secrets',
    sa.Column('instance_id', sa.UUID(as_uuid=False), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('value', sa.LargeBinary(), nullable=False),
    sa.Column('update_time', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['instance_id'], ['instances.id'], name=op.f('fk_instance_secrets_instance_id_instances'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('instance_id', 'name', name=op.f('pk_instance_secrets'))
    )
    op.create_table('deployment_events',
    sa.Column('deployment_id', sa.UUID(as_uuid=False), nullable=False),
    sa.Column('sequence', sa.BigInteger(), nullable=False),
    sa.Column('organization_id', sa.Text(), nullable=False),
    sa.Column('instance_id', sa.UUID(as_uuid=False), nullable=False),
    sa.Column('instance_sequence', sa.BigInteger(), nullable=False),
    sa.Column('type', sa.Text(), nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('message', sa.Text(), server_default='', nullable=False),
    sa.Column('progress_done', sa.Integer(), server_default='0', nullable=False),
    sa.Column('progress_total', sa.Integer(), server_default='0', nullable=False),
    sa.Column('create_time', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['deployment_id'], ['deployments.id'], name=op.f('fk_deployment_events_deployment_id_deployments')),
    sa.PrimaryKeyConstraint('deployment_id', 'sequence', name=op.f('pk_deployment_events')),
    sa.UniqueConstraint('instance_id', 'instance_sequence', name='uq_deployment_events_instance_seq')
    )


def downgrade() -> None:
    op.drop_table('deployment_events')
    op.drop_table('instance_secrets')
    op.drop_index('uq_deployments_one_running', table_name='deployments', postgresql_where=sa.text("status = 'RUNNING'"))
    op.drop_index('ix_deployments_running_lease', table_name='deployments', postgresql_where=sa.text("status = 'RUNNING'"))
    op.drop_index('ix_deployments_pending', table_name='deployments', postgresql_where=sa.text("status = 'PENDING'"))
    op.drop_index('ix_deployments_last_good', table_name='deployments')
    op.drop_index('ix_deployments_instance_created', table_name='deployments')
    op.drop_table('deployments')
    op.drop_index('ix_releases_org_created', table_name='releases')
    op.drop_table('releases')
    op.drop_index('ix_instances_org_created', table_name='instances')
    op.drop_table('instances')
    op.execute(sa.schema.DropSequence(sa.Sequence('deployment_approve_order')))
