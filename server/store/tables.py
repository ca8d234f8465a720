"""Table definitions (SQLAlchemy Core). Alembic migrations in migrations/ create them."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

NOW = sa.text("now()")


def _times() -> list[sa.Column[object]]:
    return [
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    ]


instances = sa.Table(
    "instances",
    metadata,
    sa.Column("id", UUID(as_uuid=False), primary_key=True),
    sa.Column("organization_id", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("project", sa.Text, nullable=False),
    sa.Column("environment", sa.Text, nullable=False),
    sa.Column("bundle", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("replicas", sa.Integer, nullable=False, server_default="0"),
    sa.Column("labels", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column("params", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column("connections", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column("version_constraint", sa.Text, nullable=False, server_default=""),
    sa.Column("release_channel", sa.Text, nullable=False, server_default="stable"),
    # The release pointer (docs/product.md §3): set only by approving a rollback.
    sa.Column("bundle_release_id", UUID(as_uuid=False), nullable=True),
    sa.Column("version", sa.Text, nullable=True),
    sa.Column("pinned", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("active_deployment_id", UUID(as_uuid=False), nullable=True),
    sa.Column("route_generation", sa.BigInteger, nullable=False, server_default="0"),
    # Last `instance_sequence` given to an event of this instance's deployments.
    sa.Column("event_seq", sa.BigInteger, nullable=False, server_default="0"),
    *_times(),
    sa.UniqueConstraint("organization_id", "project", "environment", "name", name="uq_instances_name"),
    sa.Index("ix_instances_org_created", "organization_id", "create_time", "id"),
)

instance_secrets = sa.Table(
    "instance_secrets",
    metadata,
    sa.Column("instance_id", UUID(as_uuid=False), sa.ForeignKey("instances.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("name", sa.Text, primary_key=True),
    # nonce ‖ AES-256-GCM ciphertext ‖ tag, sealed by server/keyring under `key_id`: never plaintext.
    sa.Column("value", sa.LargeBinary, nullable=False),
    sa.Column("key_id", sa.Text, nullable=False),
    sa.Column("update_time", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
)

releases = sa.Table(
    "releases",
    metadata,
    sa.Column("id", UUID(as_uuid=False), primary_key=True),
    sa.Column("organization_id", sa.Text, nullable=False),
    sa.Column("bundle", sa.Text, nullable=False),
    sa.Column("version", sa.Text, nullable=False),
    sa.Column("release_channel", sa.Text, nullable=False),
    sa.Column("artifact_uri", sa.Text, nullable=False),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("schema_version", sa.Integer, nullable=False, server_default="0"),
    # Set by DeleteReleaseArtifact; presence is also checked in the store itself.
    sa.Column("artifact_deleted", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("sha256", sa.Text, nullable=False, server_default=""),
    sa.Column("size_bytes", sa.BigInteger, nullable=False, server_default="0"),
    # A bundle's parsed manifest (rollout.toml, docs/bundles.md); NULL for a plain artifact.
    sa.Column("manifest", JSONB, nullable=True),
    sa.Column("create_time", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    sa.UniqueConstraint("organization_id", "bundle", "version", name="uq_releases_version"),
    sa.Index("ix_releases_org_created", "organization_id", "create_time", "id"),
)

deployments = sa.Table(
    "deployments",
    metadata,
    sa.Column("id", UUID(as_uuid=False), primary_key=True),
    sa.Column("organization_id", sa.Text, nullable=False),
    sa.Column("instance_id", UUID(as_uuid=False), sa.ForeignKey("instances.id"), nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("params", JSONB, nullable=False),
    sa.Column("md_metadata", JSONB, nullable=False),
    sa.Column("connection_params", JSONB, nullable=False),
    sa.Column("bundle_release_id", UUID(as_uuid=False), sa.ForeignKey("releases.id"), nullable=True),
    sa.Column("version", sa.Text, nullable=True),
    sa.Column("release_channel", sa.Text, nullable=True),
    sa.Column("message", sa.Text, nullable=False, server_default=""),
    sa.Column("rollback_of_id", UUID(as_uuid=False), nullable=True),
    sa.Column("rollback_of_version", sa.Text, nullable=True),
    sa.Column("plan", JSONB, nullable=True),
    sa.Column("proposed_by", sa.Text, nullable=False),
    sa.Column("decided_by", sa.Text, nullable=True),
    sa.Column("decide_time", sa.DateTime(timezone=True), nullable=True),
    sa.Column("reject_reason", sa.Text, nullable=False, server_default=""),
    sa.Column("error", sa.Text, nullable=False, server_default=""),
    # Last `sequence` given to one of this deployment's events.
    sa.Column("event_seq", sa.BigInteger, nullable=False, server_default="0"),
    # Approval order: PENDING deployments of an instance run in this order.
    sa.Column("approve_order", sa.BigInteger, nullable=True),
    # The worker running it holds a lease it renews; an expired lease means the worker died.
    sa.Column("lease_owner", sa.Text, nullable=True),
    sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
    # How many times a worker started running it (a resume after a worker died is one more).
    sa.Column("attempt", sa.Integer, nullable=False, server_default="0"),
    # How far the run got, so a resumed run goes on from there: "" or "provisioned".
    sa.Column("run_step", sa.Text, nullable=False, server_default=""),
    # Its terminal event is recorded: no event may follow (server/store/events.py).
    sa.Column("events_closed", sa.Boolean, nullable=False, server_default=sa.false()),
    *_times(),
    sa.Index("ix_deployments_instance_created", "instance_id", "create_time", "id"),
    sa.Index("ix_deployments_last_good", "instance_id", "action", "status", "create_time"),
    # The per-instance lock of docs/product.md §4, enforced by the database itself.
    sa.Index(
        "uq_deployments_one_running",
        "instance_id",
        unique=True,
        postgresql_where=sa.text("status = 'RUNNING'"),
    ),
    sa.Index("ix_deployments_pending", "instance_id", "approve_order", postgresql_where=sa.text("status = 'PENDING'")),
    sa.Index("ix_deployments_running_lease", "lease_expires_at", postgresql_where=sa.text("status = 'RUNNING'")),
    # The switch marks planned proposals of the instance stale (server/app/runs.py).
    sa.Index(
        "ix_deployments_planned_proposals",
        "instance_id",
        postgresql_where=sa.text("status = 'PROPOSED' AND plan IS NOT NULL"),
    ),
)

approve_order = sa.Sequence("deployment_approve_order", metadata=metadata)

deployment_events = sa.Table(
    "deployment_events",
    metadata,
    # Every event has its place in its instance's stream; an event of a deployment also has its place
    # in the deployment's. An event of the instance itself (a runtime instance failed) has no deployment.
    sa.Column("instance_id", UUID(as_uuid=False), primary_key=True),
    sa.Column("instance_sequence", sa.BigInteger, primary_key=True),
    sa.Column("deployment_id", UUID(as_uuid=False), sa.ForeignKey("deployments.id"), nullable=True),
    sa.Column("sequence", sa.BigInteger, nullable=True),
    sa.Column("organization_id", sa.Text, nullable=False),
    sa.Column("type", sa.Text, nullable=False),
    # The deployment's status after the event; NULL for an event of the instance.
    sa.Column("status", sa.Text, nullable=True),
    sa.Column("message", sa.Text, nullable=False, server_default=""),
    sa.Column("progress_done", sa.Integer, nullable=False, server_default="0"),
    sa.Column("progress_total", sa.Integer, nullable=False, server_default="0"),
    sa.Column("create_time", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    sa.Index(
        "uq_deployment_events_deployment_seq",
        "deployment_id",
        "sequence",
        unique=True,
        postgresql_where=sa.text("deployment_id IS NOT NULL"),
    ),
)

runtime_instances = sa.Table(
    "runtime_instances",
    metadata,
    sa.Column("id", UUID(as_uuid=False), primary_key=True),
    sa.Column("organization_id", sa.Text, nullable=False),
    sa.Column("instance_id", UUID(as_uuid=False), sa.ForeignKey("instances.id"), nullable=False),
    sa.Column("release_id", UUID(as_uuid=False), sa.ForeignKey("releases.id"), nullable=False),
    sa.Column("deployment_id", UUID(as_uuid=False), sa.ForeignKey("deployments.id"), nullable=False),
    sa.Column("state", sa.Text, nullable=False),
    # A warm instance of a release switched away from is drained after this time.
    sa.Column("drain_after", sa.DateTime(timezone=True), nullable=True),
    sa.Column("error", sa.Text, nullable=False, server_default=""),
    # The spawn job that boots it holds a lease like a run's: a dead spawner's lease expires and
    # the spawn is handed to another worker; only the latest attempt's outcome counts.
    sa.Column("spawn_attempt", sa.Integer, nullable=False, server_default="0"),
    sa.Column("spawn_lease_expires_at", sa.DateTime(timezone=True), nullable=True),
    # Where it runs (a driver's handle on it): the machine, its loopback port, and for local
    # processes the pid and the process's start time (so a reused pid is never mistaken for it).
    sa.Column("host", sa.Text, nullable=False, server_default=""),
    sa.Column("port", sa.Integer, nullable=False, server_default="0"),
    sa.Column("pid", sa.Integer, nullable=False, server_default="0"),
    sa.Column("pid_start", sa.BigInteger, nullable=False, server_default="0"),
    *_times(),
    sa.Index("ix_runtime_instances_instance_release", "instance_id", "release_id", "state"),
    sa.Index("ix_runtime_instances_created", "instance_id", "create_time", "id"),
    sa.Index("ix_runtime_instances_drain", "drain_after", postgresql_where=sa.text("drain_after IS NOT NULL")),
)

release_quarantines = sa.Table(
    "release_quarantines",
    metadata,
    sa.Column("instance_id", UUID(as_uuid=False), sa.ForeignKey("instances.id"), primary_key=True),
    sa.Column("release_id", UUID(as_uuid=False), sa.ForeignKey("releases.id"), primary_key=True),
    # The approved rollback that retreated from this release.
    sa.Column("deployment_id", UUID(as_uuid=False), sa.ForeignKey("deployments.id"), nullable=False),
    sa.Column("create_time", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
)

audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("id", UUID(as_uuid=False), primary_key=True),
    sa.Column("organization_id", sa.Text, nullable=False),
    # 1, 2, 3 … per organization: the order of the hash chain. Set, with the hashes, when the
    # inserting transaction commits (migration 0001, ADR 007); NULL only inside that transaction.
    sa.Column("sequence", sa.BigInteger, nullable=True),
    sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("actor_kind", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("resource", sa.Text, nullable=False),
    sa.Column("previous_deployment_id", sa.Text, nullable=True),
    sa.Column("new_deployment_id", sa.Text, nullable=True),
    sa.Column("previous_release_id", sa.Text, nullable=True),
    sa.Column("new_release_id", sa.Text, nullable=True),
    sa.Column("request_id", sa.Text, nullable=False, server_default=""),
    sa.Column("attribution", sa.Text, nullable=False, server_default=""),
    sa.Column("reason", sa.Text, nullable=False, server_default=""),
    sa.Column("outcome", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.Text, nullable=False),
    sa.Column("hash", sa.Text, nullable=False),
    # The canonical text to hash, until the row is sealed.
    sa.Column("pending_body", sa.Text, nullable=True),
    # Unique among sealed records, which are the only ones it holds (migration 0004).
    sa.Index(
        "uq_audit_events_org_sealed_sequence", "organization_id", "sequence",
        unique=True, postgresql_where=sa.text("sequence IS NOT NULL"),
    ),
    sa.Index("ix_audit_events_org_created", "organization_id", "create_time", "id"),
    # ListAuditEvents filtered by resource or actor, newest first (migration 0003).
    sa.Index("ix_audit_events_org_resource_created", "organization_id", "resource", "create_time", "id"),
    sa.Index("ix_audit_events_org_actor_created", "organization_id", "actor", "create_time", "id"),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("organization_id", sa.Text, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("method", sa.Text, nullable=False),
    # sha256 of the request without its key: the same key with another request is refused.
    sa.Column("fingerprint", sa.Text, nullable=False),
    # The serialized response of the first request, or its deterministic error.
    sa.Column("response", sa.LargeBinary, nullable=True),
    sa.Column("error_code", sa.Text, nullable=True),
    sa.Column("error_reason", sa.Text, nullable=True),
    sa.Column("error_message", sa.Text, nullable=True),
    sa.Column("error_metadata", JSONB, nullable=True),
    sa.Column("create_time", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    sa.Column("expire_time", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_idempotency_keys_expire", "expire_time"),
)

organizations = sa.Table(
    "organizations",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    # Bumped by every policy or approval-rule change: servers cache compiled policies per version.
    sa.Column("policy_version", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("create_time", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
)

principals = sa.Table(
    "principals",
    metadata,
    sa.Column("id", UUID(as_uuid=False), primary_key=True),
    sa.Column("organization_id", sa.Text, sa.ForeignKey("organizations.id"), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("groups", sa.ARRAY(sa.Text), nullable=False, server_default=sa.text("'{}'::text[]")),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("create_time", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    sa.UniqueConstraint("organization_id", "name", name="uq_principals_name"),
)

tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("id", UUID(as_uuid=False), primary_key=True),
    sa.Column("organization_id", sa.Text, nullable=False),
    sa.Column("principal_id", UUID(as_uuid=False), sa.ForeignKey("principals.id"), nullable=False),
    # sha256 of the secret; the secret itself is never stored.
    sa.Column("hash", sa.Text, nullable=False, unique=True),
    sa.Column("expire_time", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("create_time", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
)

policies = sa.Table(
    "policies",
    metadata,
    sa.Column("organization_id", sa.Text, sa.ForeignKey("organizations.id"), primary_key=True),
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("cedar", sa.Text, nullable=False),
    sa.Column("update_time", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
)

approval_rules = sa.Table(
    "approval_rules",
    metadata,
    sa.Column("organization_id", sa.Text, sa.ForeignKey("organizations.id"), primary_key=True),
    sa.Column("environment", sa.Text, primary_key=True),
    sa.Column("required_approvals", sa.Integer, nullable=False),
    sa.Column("proposer_may_approve", sa.Boolean, nullable=False),
)

approvals = sa.Table(
    "approvals",
    metadata,
    sa.Column("deployment_id", UUID(as_uuid=False), sa.ForeignKey("deployments.id"), primary_key=True),
    sa.Column("principal", sa.Text, primary_key=True),
    sa.Column("create_time", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
)

installation = sa.Table(
    "installation",
    metadata,
    # One row: what this database was set up with. Every server and worker proves at start that it
    # reaches the same artifact store (the store holds a marker object naming this id).
    sa.Column("id", UUID(as_uuid=False), primary_key=True),
    sa.Column("artifact_store", sa.Text, nullable=False),
    sa.Column("create_time", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
)
