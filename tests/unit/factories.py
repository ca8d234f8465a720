"""Domain objects for the unit tests, with plain defaults; a test passes whatever it depends on.

    from tests.unit import factories as make

    make.instance(version_constraint="^2")
    make.release("1.2.0", state=ReleaseState.FAILED)
    make.deployment(status=Status.COMPLETED)

Each call builds fresh objects, so a test may change what it gets.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from server.domain.models import Action, Deployment, Instance, Kind, Release, ReleaseState, Status

T0 = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
INSTANCE_ID = "0b6c2f0e-2f4e-4c59-9a43-0d3b7c1e5a10"
DB_ID = "6f1d1e8a-92a7-4c2b-b9a4-5b8f3c2d1e0f"
CACHE_ID = "7a2e3f4b-5c6d-4e7f-8a9b-0c1d2e3f4a5b"


def instance(**overrides: object) -> Instance:
    """acme's STATIC instance "web" of bundle webapp (project shop, environment prod) on channel stable.

    Nothing deployed, no constraint, and no params, connections, labels or secrets.
    """
    base = Instance(
        id=INSTANCE_ID,
        organization_id="acme",
        name="web",
        project="shop",
        environment="prod",
        bundle="webapp",
        kind=Kind.STATIC,
        replicas=0,
        labels={},
        params={},
        connections={},
        version_constraint="",
        release_channel="stable",
        bundle_release_id=None,
        version=None,
        pinned=False,
        active_deployment_id=None,
        route_generation=0,
        secret_names=(),
        create_time=T0,
        update_time=T0,
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def release(version: str = "1.0.0", **overrides: object) -> Release:
    """A READY release `rel-<version>` of webapp on channel stable, its artifact present, schema 1."""
    base = Release(
        id=f"rel-{version}",
        organization_id="acme",
        bundle="webapp",
        version=version,
        release_channel="stable",
        artifact_uri=f"file:///artifacts/webapp-{version}.tar.gz",
        state=ReleaseState.READY,
        artifact_present=True,
        schema_version=1,
        create_time=T0,
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def deployment(**overrides: object) -> Deployment:
    """alice's PROPOSED provision `d-proposal` of the instance on rel-1.0.0 (v1.0.0, channel stable).

    Its params are {"image_tag": "abc", "workers": 4}, its connections {"db": DB_ID}.
    """
    base = Deployment(
        id="d-proposal",
        organization_id="acme",
        instance_id=INSTANCE_ID,
        action=Action.PROVISION,
        status=Status.PROPOSED,
        params={"image_tag": "abc", "workers": 4},
        md_metadata={},
        connection_params={"db": DB_ID},
        bundle_release_id="rel-1.0.0",
        version="1.0.0",
        release_channel="stable",
        message="Deploy v1.0.0",
        rollback_of_id=None,
        rollback_of_version=None,
        plan=None,
        proposed_by="alice",
        decided_by=None,
        decide_time=None,
        reject_reason="",
        error="",
        create_time=T0,
        update_time=T0,
    )
    return replace(base, **overrides)  # type: ignore[arg-type]
