"""ROLLOUT_DRIVER chooses the driver (docs/drivers.md): local by default, simulated, or package.module:factory."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from server.config import Settings
from workers import drivers
from workers.drivers.local import LocalDriver
from workers.drivers.simulated import SimulatedDriver


class PluggedIn(SimulatedDriver):
    """A driver someone else wrote, loaded by its factory."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings


def factory(settings: Settings) -> PluggedIn:
    return PluggedIn(settings)


def settings(tmp_path: Path, **env: str) -> Settings:
    base = {"ROLLOUT_DATABASE_URL": "postgresql://x/y", "ROLLOUT_REDIS_URL": "redis://x", "ROLLOUT_DATA_DIR": str(tmp_path)}
    return Settings.from_env({**base, **env})


def test_the_local_driver_is_the_default(tmp_path: Path) -> None:
    chosen = drivers.load(settings(tmp_path, ROLLOUT_HOST_ID="box-1", ROLLOUT_STOP_GRACE_SECONDS="3"))
    assert isinstance(chosen, LocalDriver)
    assert (chosen.root, chosen.host_id, chosen.grace) == (tmp_path.absolute() / "local", "box-1", 3.0)


def test_the_host_id_defaults_to_the_hostname(tmp_path: Path) -> None:
    assert settings(tmp_path).host_id == socket.gethostname()


def test_simulated_and_a_factory_of_ones_own(tmp_path: Path) -> None:
    assert type(drivers.load(settings(tmp_path, ROLLOUT_DRIVER="simulated"))) is SimulatedDriver
    given = settings(tmp_path, ROLLOUT_DRIVER=f"{__name__}:factory")
    plugged = drivers.load(given)
    assert isinstance(plugged, PluggedIn) and plugged.settings is given


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("kubernetes", "ROLLOUT_DRIVER='kubernetes' is not local, simulated or package.module:factory"),
        ("no_such_package.drivers:make", "cannot load the driver 'no_such_package.drivers:make': No module named"),
        (f"{__name__}:missing", f"cannot load the driver '{__name__}:missing':"),
    ],
)
def test_a_driver_that_cannot_be_loaded_stops_the_worker_with_the_reason(tmp_path: Path, value: str, message: str) -> None:
    with pytest.raises(SystemExit) as stopped:
        drivers.load(settings(tmp_path, ROLLOUT_DRIVER=value))
    assert message in str(stopped.value)
