"""Test configuration: `support/` (beside this file) holds what tests share; the PostgreSQL fixtures
(a server on loopback for the session, a database per test) serve tests/state and tests/ci;
`--update-golden` rewrites the golden files (tests/golden/) instead of comparing with them."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from support.postgres import PgServer, missing_reason


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/golden/ from what grid renders now, instead of comparing")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


def pytest_sessionstart(session: pytest.Session) -> None:
    """In CI, first remove what killed earlier test runs left in podman (test clusters only)."""
    if os.environ.get("CI", "").lower() not in ("1", "true", "yes"):
        return
    from support.lab import remove_leftover_test_clusters

    remove_leftover_test_clusters()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    reason = missing_reason()
    if reason:
        pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="grid-pg-"))
    root.chmod(0o755)
    server = PgServer(root / "pg")
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """A fresh, empty database of the session's server (URL with the password)."""
    return pg_server.create_database()


@pytest.fixture
def draws_independent_of_loaded_modules(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Hypothesis mixes constants found in every local module loaded so far into its draws, so a derandomized
    test draws other examples depending on which tests ran before it. A test that counts its draws (how many
    specs validate) needs the same examples in every order: this leaves only the seed."""
    from hypothesis.internal.conjecture import providers

    empty = providers.Constants()
    monkeypatch.setattr(providers, "_get_local_constants", lambda: empty)
    providers.CONSTANTS_CACHE.cache.clear()
    yield
    providers.CONSTANTS_CACHE.cache.clear()
