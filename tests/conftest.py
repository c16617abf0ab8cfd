"""Test configuration: `helpers` (beside this file) holds what tests share."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


def pytest_sessionstart(session: pytest.Session) -> None:
    """In CI, first remove what killed earlier test runs left in podman (test clusters only)."""
    if os.environ.get("CI", "").lower() not in ("1", "true", "yes"):
        return
    from helpers import remove_leftover_test_clusters

    remove_leftover_test_clusters()
