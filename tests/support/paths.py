"""The repository's folders, for tests and benchmarks wherever they run from."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
LOCAL_LAB = EXAMPLES / "local-lab" / "cluster.yaml"
SCHEMAS = REPO / "docs" / "schemas"
GRID = str(Path(sys.executable).parent / "grid")  # the console script of this interpreter's environment
