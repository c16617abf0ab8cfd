"""Test configuration: `support/` (beside this file) holds what tests share; the PostgreSQL fixtures
(a server on loopback for the session, a database per test) serve tests/state and tests/ci;
`--update-golden` rewrites the golden files (tests/golden/) instead of comparing with them.

Under pytest-xdist (`make test` runs two workers, `--dist loadfile --no-loadscope-reorder`), a file's tests run
on one worker, so a cluster its module shares is made once; files are queued in the order collection leaves
here: the end-to-end files first, the longest of them first (an e2e file mostly waits on its nodes, so two run
well side by side), so none is left to run alone at the end, then the CPU-bound rest, shared by both workers."""

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


# The end-to-end files that take longest (CI's durations), started first; any other e2e file follows them.
LONGEST_FIRST = (
    "reliability/test_crash_safety.py", "e2e/test_roll_e2e.py", "e2e/test_heal_e2e.py",
    "e2e/test_drift_digest_e2e.py", "e2e/test_slurm_e2e.py", "e2e/test_slurm_drain_e2e.py",
    "reliability/test_faults_e2e.py", "e2e/test_name_service_e2e.py", "e2e/test_agents_per_region_e2e.py",
    "e2e/test_region_scope_e2e.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> tuple[int, int]:
        if item.get_closest_marker("e2e") is None:
            return (1, 0)
        path = item.path.relative_to(Path(__file__).parent).as_posix()
        return (0, LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST))

    items.sort(key=rank)  # stable: each file's tests keep their order


def pytest_sessionstart(session: pytest.Session) -> None:
    """In CI, first remove what killed earlier test runs left in podman (test clusters only); once, by the
    controller, not by each xdist worker (a worker starting late would remove another's running cluster)."""
    if os.environ.get("CI", "").lower() not in ("1", "true", "yes") or hasattr(session.config, "workerinput"):
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
