"""Golden files (tests/golden/): what grid renders and prints, kept byte for byte so any change to it shows
in review. `pytest --update-golden` rewrites them from what grid gives now; otherwise a difference fails
the test with a unified diff. A rendered tree is kept as one text file, each file under a `=== path ===` line.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

from .paths import REPO

GOLDEN = REPO / "tests" / "golden"
MAX_DIFF_LINES = 200


def tree_text(files: Mapping[str, str]) -> str:
    """Files (path -> text) as one text, in path order."""
    return "".join(f"=== {path} ===\n{text}{'' if text.endswith(chr(10)) else chr(10)}"
                   for path, text in sorted(files.items()))


def assert_golden(name: str, actual: str, *, update: bool) -> None:
    """`actual` is tests/golden/`name` byte for byte (with `update`, it becomes it)."""
    path = GOLDEN / name
    if update:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual)
        return
    assert path.is_file(), f"no golden file {path.relative_to(REPO)}: run pytest with --update-golden to make it"
    expected = path.read_text()
    if actual == expected:
        return
    diff = list(difflib.unified_diff(expected.splitlines(keepends=True), actual.splitlines(keepends=True),
                                     f"{path.relative_to(REPO)} (golden)", "now"))
    shown = "".join(diff[:MAX_DIFF_LINES]) + (f"... {len(diff) - MAX_DIFF_LINES} more lines\n"
                                              if len(diff) > MAX_DIFF_LINES else "")
    raise AssertionError(f"{name} differs from its golden file (if the change is intended, run pytest "
                         f"--update-golden and review the diff in git):\n{shown}")
