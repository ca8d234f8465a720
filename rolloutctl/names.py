"""Naming things the way a person does: an instance by name (or project/environment/name) or by a
unique id prefix, a deployment or release by a unique id prefix, anything by its full UUID.

The rules are pure functions; `Resolver` asks the server. Searches are bounded: an org-wide
deployment prefix looks at the newest MAX_DEPLOYMENTS of at most MAX_INSTANCES instances.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from rollout.v1 import resources_pb2 as pb
from rollout.v1 import rollout_service_pb2 as api
from rolloutctl.client import Client, paged
from rolloutctl.outcome import CliError

T = TypeVar("T")

MIN_PREFIX = 4
MAX_INSTANCES = 500
MAX_DEPLOYMENTS = 1000
MAX_RELEASES = 5000
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
_PREFIX = re.compile(rf"^[0-9a-f][0-9a-f-]{{{MIN_PREFIX - 1},35}}$")


def is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text.lower()
    except ValueError:
        return False


def is_prefix(text: str) -> bool:
    """Whether `text` can be the start of a UUID (at least MIN_PREFIX characters)."""
    return bool(_PREFIX.match(text.lower()))


@dataclass(frozen=True)
class InstanceRef:
    name: str
    environment: str | None = None
    project: str | None = None

    def filter(self) -> str:
        terms = [("project", self.project), ("environment", self.environment), ("name", self.name)]
        return " AND ".join(f"{field} = {value}" for field, value in terms if value)


def parse_instance_ref(text: str) -> InstanceRef | None:
    """`name`, `environment/name` or `project/environment/name`; None when it cannot be a name."""
    parts = text.split("/")
    if len(parts) > 3 or not all(_NAME.match(p) for p in parts):
        return None
    parts.reverse()
    return InstanceRef(*parts)


def qualified(instance: pb.Instance) -> str:
    return f"{instance.project}/{instance.environment}/{instance.name}"


def one(text: str, kind: str, matches: Sequence[tuple[T, str]], hint: str = "") -> T:
    """The single match; a readable CliError (exit 4) for none or several."""
    if len(matches) == 1:
        return matches[0][0]
    if not matches:
        raise CliError(f"no {kind} {text!r}", hint=hint)
    shown = "\n".join(f"  {label}" for _, label in matches[:10])
    more = f"\n  … and {len(matches) - 10} more" if len(matches) > 10 else ""
    raise CliError(f"{text!r} is ambiguous: {len(matches)} {kind}s match\n{shown}{more}", hint=hint)


def by_prefix(prefix: str, items: Sequence[T], key: str = "id") -> list[T]:
    prefix = prefix.lower()
    return [item for item in items if str(getattr(item, key)).startswith(prefix)]


class Resolver:
    def __init__(self, client: Client) -> None:
        self.client = client
        self.org = client.organization

    def _get(self, method: str, request: api.GetInstanceRequest | api.GetDeploymentRequest) -> object | None:
        try:
            found: object = self.client.call(method, request)
            return found
        except CliError as exc:
            if exc.code == "NOT_FOUND":
                return None
            raise

    def instances(self, filter: str = "", limit: int = MAX_INSTANCES) -> list[pb.Instance]:
        request = api.ListInstancesRequest(organization_id=self.org, filter=filter)
        return paged(self.client, "ListInstances", request, "instances", limit)

    def instance(self, text: str) -> pb.Instance:
        found = self._instance_or_none(text)
        if found is None:
            raise CliError(f"no instance {text!r} in organization {self.org}", hint="`rolloutctl instances` lists them")
        return found

    def _instance_or_none(self, text: str) -> pb.Instance | None:
        text = text.strip()
        if is_uuid(text):
            got = self._get("GetInstance", api.GetInstanceRequest(organization_id=self.org, id=text.lower()))
            return got if isinstance(got, pb.Instance) else None
        ref = parse_instance_ref(text)
        if ref is not None:
            named = self.instances(ref.filter())
            if named:
                hint = "name it as project/environment/name, or by id prefix"
                return one(text, "instance", [(i, f"{qualified(i)}  {i.id[:8]}") for i in named], hint)
        if is_prefix(text):
            matches = by_prefix(text, self.instances())
            if matches:
                return one(text, "instance", [(i, f"{i.id[:8]}  {qualified(i)}") for i in matches])
        return None

    def deployments(self, instance: pb.Instance, limit: int = MAX_DEPLOYMENTS) -> list[pb.Deployment]:
        """The instance's deployments, newest first."""
        request = api.ListDeploymentsRequest(organization_id=self.org, instance_id=instance.id, order_by="create_time desc")
        return paged(self.client, "ListDeployments", request, "deployments", limit)

    def deployment(self, text: str, instance: pb.Instance | None = None) -> pb.Deployment:
        """A deployment by full id, or by unique prefix within `instance` (else the organization)."""
        text = text.strip().lower()
        if is_uuid(text):
            got = self._get("GetDeployment", api.GetDeploymentRequest(organization_id=self.org, id=text))
            if isinstance(got, pb.Deployment) and (instance is None or got.instance_id == instance.id):
                return got
            where = f" of instance {instance.name}" if instance else ""
            raise CliError(f"no deployment {text}{where} in organization {self.org}")
        if not is_prefix(text):
            raise CliError(f"{text!r} is not a deployment id or an id prefix of at least {MIN_PREFIX} hex characters")
        matches = self._deployment_prefix(text, [instance] if instance else self.instances())
        where = f"instance {instance.name}" if instance else f"organization {self.org}"
        bound = f"searched the newest {MAX_DEPLOYMENTS} deployments of each instance; give the full id"
        return one(text, f"deployment in {where} with id", matches, bound)

    def _deployment_prefix(self, prefix: str, instances: list[pb.Instance]) -> list[tuple[pb.Deployment, str]]:
        matches = []
        for inst in instances:
            for d in by_prefix(prefix, self.deployments(inst)):
                label = f"{d.id[:8]}  {qualified(inst)}  v{d.version}  {pb.Deployment.Status.Name(d.status)[7:]}"
                matches.append((d, label))
        return matches

    def deployment_or_instance(self, text: str) -> pb.Deployment | pb.Instance:
        """What `watch` names: a deployment, or an instance (an exact instance name wins)."""
        text = text.strip()
        if is_uuid(text):
            got = self._get("GetDeployment", api.GetDeploymentRequest(organization_id=self.org, id=text.lower()))
            if isinstance(got, pb.Deployment):
                return got
            return self.instance(text)
        ref = parse_instance_ref(text)
        if ref is not None and self.instances(ref.filter()):
            return self.instance(text)
        if not is_prefix(text):
            raise CliError(f"no instance {text!r} in organization {self.org}", hint="`rolloutctl instances` lists them")
        everything = self.instances()
        matches: list[tuple[pb.Deployment | pb.Instance, str]] = [
            (i, f"instance {i.id[:8]}  {qualified(i)}") for i in by_prefix(text, everything)
        ]
        matches += [(d, "deployment " + label) for d, label in self._deployment_prefix(text.lower(), everything)]
        return one(text, "deployment or instance", matches)

    def release(self, text: str, bundle: str) -> pb.Release:
        """A release of `bundle` by version (`1.2.0` or `v1.2.0`), full id or unique id prefix."""
        text = text.strip()
        request = api.ListReleasesRequest(organization_id=self.org, filter=f"bundle = {bundle}")
        releases: list[pb.Release] = paged(self.client, "ListReleases", request, "releases", MAX_RELEASES)
        version = text[1:] if text.startswith("v") else text
        matches = [r for r in releases if r.version == version]
        if not matches and is_prefix(text):
            matches = by_prefix(text, releases)
        labels = [(r, f"{r.id[:8]}  v{r.version}  {pb.Release.State.Name(r.state)[6:]}") for r in matches]
        return one(text, f"release of bundle {bundle} with version or id", labels, "`rolloutctl releases` lists them")
