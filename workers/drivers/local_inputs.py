"""What a bundle's command is given by the local driver (docs/drivers.md): the snapshot as JSON, and an environment.

The snapshot (no secrets in it) is written to a file in the step's folder;
the command reads it on stdin or at `$ROLLOUT_SNAPSHOT`. The instance's
current secrets exist only in the command's environment: `db-password`
becomes `DB_PASSWORD`. Nothing of the worker's own environment is passed on
but a few neutral variables: its database URL and keys stay with it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from server.domain.models import JSON
from workers.drivers.base import DriverError, Step

# Taken from the worker's environment when set: what ordinary programs need to run.
PASSED_ON = ("PATH", "HOME", "LANG", "LC_ALL", "TZ")
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
# Set by the driver; a secret may not take these names (nor any ROLLOUT_ one).
RESERVED = frozenset({*PASSED_ON, "PORT", "TMPDIR", "PWD", "PYTHONUNBUFFERED"})


def snapshot(step: Step, name: str, runtime_id: str = "") -> JSON:
    """The deployment's snapshot and ids, for the step `name` (`provision`, `decommission`, `serve`)."""
    d, i, r = step.deployment, step.instance, step.release
    return {
        "step": name,
        "action": d.action.value,
        "organization_id": d.organization_id,
        "deployment_id": d.id,
        "rollback_of": d.rollback_of_id,
        "instance": {
            "id": i.id,
            "name": i.name,
            "project": i.project,
            "environment": i.environment,
            "kind": i.kind.value,
            "replicas": i.replicas,
        },
        "bundle": r.bundle if r else i.bundle,
        "bundle_release_id": r.id if r else None,
        "version": r.version if r else None,
        "release_channel": r.release_channel if r else None,
        "params": d.params,
        "connection_params": d.connection_params,
        "md_metadata": d.md_metadata,
        "runtime_instance_id": runtime_id or None,
        # Names only: which variables hold the instance's secrets.
        "secrets": {secret: variable(secret) for secret in sorted(step.secrets)},
    }


def write_snapshot(path: Path, value: JSON) -> None:
    path.write_text(json.dumps(value, sort_keys=True, indent=2) + "\n")
    path.chmod(0o600)


def variable(secret_name: str) -> str:
    """The environment variable holding a secret: `db-password` → `DB_PASSWORD`."""
    return secret_name.upper().replace("-", "_")


def environment(step: Step, name: str, folder: Path, snapshot_path: Path, **extra: str) -> dict[str, str]:
    """The command's whole environment; DriverError if two secrets (or a secret and the driver) want one name."""
    env = {key: os.environ[key] for key in PASSED_ON if os.environ.get(key)}
    env.setdefault("PATH", DEFAULT_PATH)
    d = step.deployment
    env.update(
        ROLLOUT_STEP=name,
        ROLLOUT_SNAPSHOT=str(snapshot_path),
        ROLLOUT_ORGANIZATION_ID=d.organization_id,
        ROLLOUT_INSTANCE_ID=d.instance_id,
        ROLLOUT_DEPLOYMENT_ID=d.id,
        ROLLOUT_RELEASE_ID=step.release.id if step.release else "",
        ROLLOUT_VERSION=step.release.version if step.release else "",
        TMPDIR=str(folder),
        # Python commands write their lines as they go, so progress streams instead of arriving at exit.
        PYTHONUNBUFFERED="1",
        **extra,
    )
    taken: dict[str, str] = {}
    for secret in sorted(step.secrets):
        var = variable(secret)
        if var in RESERVED or var.startswith("ROLLOUT_") or var in extra:
            raise DriverError(f"the secret {secret!r} would be ${var}, a name the driver sets; rename the secret")
        if var in taken:
            raise DriverError(f"the secrets {taken[var]!r} and {secret!r} would both be ${var}; rename one")
        taken[var] = secret
        env[var] = step.secrets[secret]
    return env
