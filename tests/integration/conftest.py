"""Fixtures of the rolloutctl and router tests (the stack's own fixtures are in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.cli import Cli
from tests.integration.router_kit import Router, RouterStack, router_stack, router_token, start_router


@pytest.fixture()
def cli(address: str, org: str, org_token: str, tmp_path: Path) -> Iterator[Cli]:
    """rolloutctl as the test organization's admin, its token in a file only its owner may read."""
    token_file = tmp_path / "token"
    token_file.write_text(org_token + "\n")
    token_file.chmod(0o600)
    home = tmp_path / "home"
    home.mkdir()
    yield Cli(address, org, token_file, home)


@pytest.fixture(scope="session")
def rs(backends: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[RouterStack]:
    """The router tests' local-driver stack (tests/integration/router_kit.py), shared by test_router.py and
    test_router_load.py: each test has an organization of its own and stops its runtime instances."""
    with router_stack(backends[0], backends[1], tmp_path_factory.mktemp("router")) as started:
        yield started


@pytest.fixture()
def router(rs: RouterStack, org: str) -> Iterator[Router]:
    """A `python -m router` process of its own for the test organization, against the router stack's server."""
    started = start_router(rs.stack, rs.address, org, router_token(rs.database_url, org))
    yield started
    started.process.stop()
