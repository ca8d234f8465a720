"""Fixtures of the rolloutctl tests (the stack's own fixtures are in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.cli import Cli


@pytest.fixture()
def cli(address: str, org: str, org_token: str, tmp_path: Path) -> Iterator[Cli]:
    """rolloutctl as the test organization's admin, its token in a file only its owner may read."""
    token_file = tmp_path / "token"
    token_file.write_text(org_token + "\n")
    token_file.chmod(0o600)
    home = tmp_path / "home"
    home.mkdir()
    yield Cli(address, org, token_file, home)
