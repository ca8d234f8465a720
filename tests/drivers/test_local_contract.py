"""The local driver passes the driver contract, with real processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.drivers.contract import DriverContract, Kit
from tests.drivers.local_kit import LocalKit


class TestLocalDriver(DriverContract):
    @pytest.fixture()
    def kit(self, tmp_path: Path) -> Kit:
        return LocalKit(tmp_path)
