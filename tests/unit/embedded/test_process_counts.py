"""How many server and worker processes `make run` starts (server/embedded/launcher.py)."""

from __future__ import annotations

import pytest

from server.embedded.launcher import process_counts


@pytest.mark.parametrize(("cpus", "expected"), [(1, (1, 1)), (2, (2, 2)), (16, (4, 4))])
def test_one_of_each_per_core_up_to_four(cpus: int, expected: tuple[int, int]) -> None:
    assert process_counts({}, cpus) == expected


def test_each_count_can_be_set() -> None:
    env = {"ROLLOUT_SERVER_PROCESSES": "3", "ROLLOUT_WORKER_PROCESSES": "1"}
    assert process_counts(env, 2) == (3, 1)


@pytest.mark.parametrize("bad", ["0", "-1", "two", "65", "1.5"])
def test_a_bad_count_stops_with_its_name(bad: str) -> None:
    with pytest.raises(SystemExit, match=f"ROLLOUT_WORKER_PROCESSES={bad!r}"):
        process_counts({"ROLLOUT_WORKER_PROCESSES": bad}, 2)
