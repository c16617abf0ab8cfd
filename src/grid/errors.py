"""The one failure type users see from the core: what happened, and what to do about it.

Everything the people or the machine around grid cause (a state held by someone else, a stale saved plan, a
missing key) is a `GridError` with a message and a hint; the CLI turns it into `error:` / `hint:` lines and its
exit code in one place. Anything else escaping the core is a bug in grid.
"""

from __future__ import annotations


class GridError(Exception):
    def __init__(self, message: str, hint: str = "", *, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code


class OperationFailed(GridError):
    """An operation refused or could not finish (grid.operations); nothing it did not say was changed."""
