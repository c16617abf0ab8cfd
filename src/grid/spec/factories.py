"""Default factories of the spec models.

`default_factory=list` costs each model class an `inspect.signature(list)`: pydantic asks whether a factory takes
the validated data, and a builtin's signature is parsed from its text by the tokenizer (~1.7 ms for the first,
~0.07 ms each after, paid by every command that loads the spec: issue 20, start-up). A function's is read directly.
"""

from __future__ import annotations

from typing import Any


def empty_list() -> list[Any]:
    """A new empty list (what `list()` gives)."""
    return []
