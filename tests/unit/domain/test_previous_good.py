"""Choosing "the previous good run" and refusing a rollback that would change nothing (domain/rollback.py)."""

from __future__ import annotations

import pytest

from server.domain.errors import FailedPrecondition
from server.domain.models import Deployment, Kind, Release, ReleaseState, Status
from server.domain.releases import RELEASE_NOT_SERVABLE
from server.domain.rollback import NO_ROLLBACK_TARGET, SOURCE_IS_ACTIVE, check_source, message, previous_good
from tests.unit import factories as make


def run(name: str, version: str = "1.0.0", **overrides: object) -> Deployment:
    return make.deployment(id=name, status=Status.COMPLETED, bundle_release_id=f"rel-{version}", version=version, **overrides)


def test_the_newest_past_run_that_is_not_active() -> None:
    instance = make.instance(active_deployment_id="d3")
    runs = [(run("d3", "3.0.0"), make.release("3.0.0")), (run("d2", "2.0.0"), make.release("2.0.0"))]
    assert previous_good(runs, instance).id == "d2"


def test_a_run_identical_to_the_active_one_is_skipped() -> None:
    # d1 (1.0.0) was rolled back to by d3: going "back" to d1 again would change nothing.
    instance = make.instance(active_deployment_id="d3")
    runs = [
        (run("d3", "1.0.0", params={"workers": 4}), make.release("1.0.0")),
        (run("d2", "2.0.0", params={"workers": 4}), make.release("2.0.0")),
        (run("d1", "1.0.0", params={"workers": 4}), make.release("1.0.0")),
    ]
    assert previous_good(runs, instance).id == "d2"
    quarantined = make.instance(active_deployment_id="d3", quarantined_release_ids=("rel-2.0.0",))
    with pytest.raises(FailedPrecondition) as refused:
        previous_good(runs, quarantined)
    assert refused.value.reason == NO_ROLLBACK_TARGET


def test_a_run_of_the_same_release_with_other_params_is_a_target() -> None:
    instance = make.instance(active_deployment_id="d2")
    runs = [
        (run("d2", "1.0.0", params={"workers": 8}), make.release("1.0.0")),
        (run("d1", "1.0.0", params={"workers": 4}), make.release("1.0.0")),
    ]
    assert previous_good(runs, instance).id == "d1"


@pytest.mark.parametrize(
    "bad",
    [
        make.release("2.0.0", state=ReleaseState.FAILED),
        make.release("2.0.0", artifact_present=False),
        make.release("2.0.0", bundle="other"),
        None,
    ],
    ids=["failed release", "artifact gone", "another bundle", "no release"],
)
def test_unusable_releases_are_skipped(bad: Release | None) -> None:
    instance = make.instance(active_deployment_id="d3")
    runs = [(run("d3", "3.0.0"), make.release("3.0.0")), (run("d2", "2.0.0"), bad), (run("d1"), make.release())]
    assert previous_good(runs, instance).id == "d1"


def test_quarantined_releases_are_skipped() -> None:
    instance = make.instance(active_deployment_id="d3", quarantined_release_ids=("rel-2.0.0",))
    runs = [(run("d3", "3.0.0"), make.release("3.0.0")), (run("d2", "2.0.0"), make.release("2.0.0")), (run("d1"), make.release())]
    assert previous_good(runs, instance).id == "d1"


def test_an_archived_release_with_its_artifact_is_good() -> None:
    instance = make.instance(active_deployment_id="d3")
    runs = [(run("d2", "2.0.0"), make.release("2.0.0", state=ReleaseState.ARCHIVED))]
    assert previous_good(runs, instance).id == "d2"


@pytest.mark.parametrize("runs", [[], [(run("d1"), make.release())]], ids=["no runs", "only the active one"])
def test_no_target(runs: list[tuple[Deployment, Release | None]]) -> None:
    with pytest.raises(FailedPrecondition) as refused:
        previous_good(runs, make.instance(active_deployment_id="d1"))
    assert refused.value.reason == NO_ROLLBACK_TARGET
    assert refused.value.metadata == {"instance_id": make.INSTANCE_ID}


def test_the_active_deployment_is_refused_as_a_source() -> None:
    with pytest.raises(FailedPrecondition) as refused:
        check_source(run("d1"), make.release(), make.instance(active_deployment_id="d1"))
    assert refused.value.reason == SOURCE_IS_ACTIVE
    assert refused.value.metadata == {"deployment_id": "d1"}


def test_the_reason_is_in_the_message() -> None:
    source = run("d1")
    assert message(source) == "Rollback to deployment d1 (v1.0.0)"
    assert message(source, "INC-7 checkout errors") == "Rollback to deployment d1 (v1.0.0): INC-7 checkout errors"


def test_a_dynamic_instance_skips_runs_whose_release_it_cannot_serve() -> None:
    serve = {"serve": {"command": ["./serve"], "timeout_seconds": 60.0}}
    instance = make.instance(kind=Kind.DYNAMIC, replicas=1, active_deployment_id="d3")
    runs = [
        (run("d3", "3.0.0"), make.release("3.0.0", manifest=serve)),
        (run("d2", "2.0.0"), make.release("2.0.0")),  # published before bundles: a plain artifact
        (run("d1"), make.release(manifest=serve)),
    ]
    assert previous_good(runs, instance).id == "d1"
    with pytest.raises(FailedPrecondition) as refused:
        check_source(runs[1][0], runs[1][1], instance)
    assert refused.value.reason == RELEASE_NOT_SERVABLE
