"""Fixtures of the CI/GitOps tests: one PostgreSQL server on loopback for the session, a database per test."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pg_helpers import PgServer, missing_reason


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
