"""the schema: every table, index and the audit log's triggers

Revision ID: 0001
Revises:

One migration for the whole schema as it stands at the first install;
tests/integration/test_migrations.py checks that it equals the tables
declared in server/store/tables.py. From here on migrations are append-only:
a change to the schema is a new revision after this one.

The audit log is append-only and hash-chained (ADR 007): a trigger refuses
UPDATE, DELETE and TRUNCATE except for sealing a row and the retention
purge's own transaction, and a deferred constraint trigger seals each row —
takes the organization's chain lock, assigns its sequence and hash — as part
of COMMIT, so the lock is held for microseconds.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

AUDIT_LOG = [
    # Append-only: nothing may change a row but its sealing, nor delete one but the retention purge.
    """
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('rollout.audit_purge', true) = 'on' THEN
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.sequence IS NULL AND current_setting('rollout.audit_seal', true) = 'on' THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$
""",
    """
CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()
""",
    """
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()
""",
    """
CREATE FUNCTION audit_events_seal() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    last_sequence bigint;
    last_hash text;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended(NEW.organization_id, 7305447));
    SELECT sequence, hash INTO last_sequence, last_hash FROM audit_events
    WHERE organization_id = NEW.organization_id AND sequence IS NOT NULL
    ORDER BY sequence DESC LIMIT 1;
    last_sequence := coalesce(last_sequence, 0) + 1;
    last_hash := coalesce(last_hash, '');
    PERFORM set_config('rollout.audit_seal', 'on', true);
    UPDATE audit_events
    SET sequence = last_sequence,
        prev_hash = last_hash,
        hash = encode(sha256(convert_to(last_hash || chr(31) || last_sequence::text || chr(31) || pending_body,
                                        'UTF8')), 'hex'),
        pending_body = NULL
    WHERE id = NEW.id;
    PERFORM set_config('rollout.audit_seal', 'off', true);
    RETURN NULL;
END;
$$
""",
    """
CREATE CONSTRAINT TRIGGER audit_events_seal AFTER INSERT ON audit_events
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_events_seal()
""",
]


def upgrade() -> None:
    op.execute(sa.schema.CreateSequence(sa.Sequence("deployment_approve_order")))
    op.create_table('audit_events',
    sa.Column('id', sa.UUID(as_uuid=False), nullable=False),
    sa.Column('organization_id', sa.Text(), nullable=False),
    sa.Column('sequence', sa.BigInteger(), nullable=True),
    sa.Column('create_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.Text(), nullable=False),
    sa.Column('actor_kind', sa.Text(), nullable=False),
    sa.Column('action', sa.Text(), nullable=False),
    sa.Column('resource', sa.Text(), nullable=False),
    sa.Column('previous_deployment_id', sa.Text(), nullable=True),
    sa.Column('new_deployment_id', sa.Text(), nullable=True),
    sa.Column('previous_release_id', sa.Text(), nullable=True),
    sa.Column('new_release_id', sa.Text(), nullable=True),
    sa.Column('request_id', sa.Text(), server_default='', nullable=False),
    sa.Column('attribution', sa.Text(), server_default='', nullable=False),
    sa.Column('reason', sa.Text(), server_default='', nullable=False),
    sa.Column('outcome', sa.Text(), nullable=False),
    sa.Column('prev_hash', sa.Text(), nullable=False),
    sa.Column('hash', sa.Text(), nullable=False),
    sa.Column('pending_body', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events')),
    sa.UniqueConstraint('organization_id', 'sequence', name='uq_audit_events_org_sequence')
    )
    op.create_index('ix_audit_events_org_created', 'audit_events', ['organization_id', 'create_time', 'id'], unique=False)
    op.create_table('idempotency_keys',
    sa.Column('organization_id', sa.Text(), nullable=False),
    sa.Column('key', sa.Text(), nullable=False),
    sa.Column('method', sa.Text(), nullable=False),
    sa.Column('fingerprint', sa.Text(), nullable=False),
    sa.Column('response', sa.LargeBinary(), nullable=True),
    sa.Column('error_code', sa.Text(), nullable=True),
    sa.Column('error_reason', sa.Text(), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('error_metadata', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('create_time', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('expire_time', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('organization_id', 'key', name=op.f('pk_idempotency_keys'))
    )
    op.create_index('ix_idempotency_keys_expire', 'idempotency_keys', ['expire_time'], unique=False)
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
    op.create_table('organizations',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('policy_version', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('create_time', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organizations'))
    )
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
    op.create_table('approval_rules',
    sa.Column('organization_id', sa.Text(), nullable=False),
    sa.Column('environment', sa.Text(), nullable=False),
    sa.Column('required_approvals', sa.Integer(), nullable=False),
    sa.Column('proposer_may_approve', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_approval_rules_organization_id_organizations')),
    sa.PrimaryKeyConstraint('organization_id', 'environment', name=op.f('pk_approval_rules'))
    )
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
    sa.Column('attempt', sa.Integer(), server_default='0', nullable=False),
    sa.Column('run_step', sa.Text(), server_default='', nullable=False),
    sa.Column('events_closed', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('create_time', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('update_time', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['bundle_release_id'], ['releases.id'], name=op.f('fk_deployments_bundle_release_id_releases')),
    sa.ForeignKeyConstraint(['instance_id'], ['instances.id'], name=op.f('fk_deployments_instance_id_instances')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deployments'))
    )
    op.create_index('ix_deployments_instance_created', 'deployments', ['instance_id', 'create_time', 'id'], unique=False)
    op.create_index('ix_deployments_last_good', 'deployments', ['instance_id', 'action', 'status', 'create_time'], unique=False)
    op.create_index('ix_deployments_pending', 'deployments', ['instance_id', 'approve_order'], unique=False, postgresql_where=sa.text("status = 'PENDING'"))
    op.create_index('ix_deployments_planned_proposals', 'deployments', ['instance_id'], unique=False, postgresql_where=sa.text("status = 'PROPOSED' AND plan IS NOT NULL"))
    op.create_index('ix_deployments_running_lease', 'deployments', ['lease_expires_at'], unique=False, postgresql_where=sa.text("status = 'RUNNING'"))
    op.create_index('uq_deployments_one_running', 'deployments', ['instance_id'], unique=True, postgresql_where=sa.text("status = 'RUNNING'"))
    op.create_table('instance_secrets',
    sa.Column('instance_id', sa.UUID(as_uuid=False), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('value', sa.LargeBinary(), nullable=False),
    sa.Column('key_id', sa.Text(), nullable=False),
    sa.Column('update_time', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['instance_id'], ['instances.id'], name=op.f('fk_instance_secrets_instance_id_instances'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('instance_id', 'name', name=op.f('pk_instance_secrets'))
    )
    op.create_table('policies',
    sa.Column('organization_id', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('cedar', sa.Text(), nullable=False),
    sa.Column('update_time', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_policies_organization_id_organizations')),
    sa.PrimaryKeyConstraint('organization_id', 'name', name=op.f('pk_policies'))
    )
    op.create_table('principals',
    sa.Column('id', sa.UUID(as_uuid=False), nullable=False),
    sa.Column('organization_id', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('groups', sa.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"), nullable=False),
    sa.Column('disabled', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('create_time', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_principals_organization_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_principals')),
    sa.UniqueConstraint('organization_id', 'name', name='uq_principals_name')
    )
    op.create_table('approvals',
    sa.Column('deployment_id', sa.UUID(as_uuid=False), nullable=False),
    sa.Column('principal', sa.Text(), nullable=False),
    sa.Column('create_time', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['deployment_id'], ['deployments.id'], name=op.f('fk_approvals_deployment_id_deployments')),
    sa.PrimaryKeyConstraint('deployment_id', 'principal', name=op.f('pk_approvals'))
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
    op.create_table('release_quarantines',
    sa.Column('instance_id', sa.UUID(as_uuid=False), nullable=False),
    sa.Column('release_id', sa.UUID(as_uuid=False), nullable=False),
    sa.Column('deployment_id', sa.UUID(as_uuid=False), nullable=False),
    sa.Column('create_time', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['deployment_id'], ['deployments.id'], name=op.f('fk_release_quarantines_deployment_id_deployments')),
    sa.ForeignKeyConstraint(['instance_id'], ['instances.id'], name=op.f('fk_release_quarantines_instance_id_instances')),
    sa.ForeignKeyConstraint(['release_id'], ['releases.id'], name=op.f('fk_release_quarantines_release_id_releases')),
    sa.PrimaryKeyConstraint('instance_id', 'release_id', name=op.f('pk_release_quarantines'))
    )
    op.create_table('runtime_instances',
    sa.Column('id', sa.UUID(as_uuid=False), nullable=False),
    sa.Column('organization_id', sa.Text(), nullable=False),
    sa.Column('instance_id', sa.UUID(as_uuid=False), nullable=False),
    sa.Column('release_id', sa.UUID(as_uuid=False), nullable=False),
    sa.Column('deployment_id', sa.UUID(as_uuid=False), nullable=False),
    sa.Column('state', sa.Text(), nullable=False),
    sa.Column('drain_after', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), server_default='', nullable=False),
    sa.Column('spawn_attempt', sa.Integer(), server_default='0', nullable=False),
    sa.Column('spawn_lease_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('create_time', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('update_time', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['deployment_id'], ['deployments.id'], name=op.f('fk_runtime_instances_deployment_id_deployments')),
    sa.ForeignKeyConstraint(['instance_id'], ['instances.id'], name=op.f('fk_runtime_instances_instance_id_instances')),
    sa.ForeignKeyConstraint(['release_id'], ['releases.id'], name=op.f('fk_runtime_instances_release_id_releases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_runtime_instances'))
    )
    op.create_index('ix_runtime_instances_created', 'runtime_instances', ['instance_id', 'create_time', 'id'], unique=False)
    op.create_index('ix_runtime_instances_drain', 'runtime_instances', ['drain_after'], unique=False, postgresql_where=sa.text('drain_after IS NOT NULL'))
    op.create_index('ix_runtime_instances_instance_release', 'runtime_instances', ['instance_id', 'release_id', 'state'], unique=False)
    op.create_table('tokens',
    sa.Column('id', sa.UUID(as_uuid=False), nullable=False),
    sa.Column('organization_id', sa.Text(), nullable=False),
    sa.Column('principal_id', sa.UUID(as_uuid=False), nullable=False),
    sa.Column('hash', sa.Text(), nullable=False),
    sa.Column('expire_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('create_time', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['principal_id'], ['principals.id'], name=op.f('fk_tokens_principal_id_principals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tokens')),
    sa.UniqueConstraint('hash', name=op.f('uq_tokens_hash'))
    )
    for statement in AUDIT_LOG:
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("the audit log is append-only; restore from a backup instead")
