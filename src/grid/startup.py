"""A grid process's imports, made with the cyclic GC paused and then frozen (issue 20, start-up).

Imports make ~10^5 objects (classes, pydantic's schemas, Pulumi's protobuf descriptors, functions) and almost no
garbage, yet every burst of allocations triggers collections that rescan them, and the interpreter's last
collection at exit scans them all again: ~25 ms of a 0.2 s `grid validate`, ~50 ms of a Pulumi worker's start,
~10 ms of the dynamic provider's, ~130 ms of `ansible-playbook`'s (grid.drivers.ansible_playbook). What the
modules made lives as long as the process, so it moves to the permanent generation (gc.freeze), once per
process: a second command run in the same process (the tests' in-process runs) would otherwise freeze whatever
its caller had made meanwhile, garbage included. What runs after the imports runs with the GC as it was.
`keep_dataclass_code`: the other cost every start pays again, dataclasses compiling their methods (grid.dataclass_code).
"""

from __future__ import annotations

import contextlib
import gc
import sys
from collections.abc import Iterator

_frozen = False


@contextlib.contextmanager
def importing() -> Iterator[None]:
    """Import within this block: the GC is paused, and the first block of the process freezes what it made."""
    global _frozen
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if not _frozen:
            _frozen = True
            gc.freeze()
        if was_enabled:
            gc.enable()


def keep_dataclass_code(program: str) -> None:
    """grid.dataclass_code for this process of `program`, where Python keeps bytecode: where it keeps none
    (PYTHONDONTWRITEBYTECODE) nothing would be kept either, and the module is not even loaded."""
    if sys.dont_write_bytecode:
        return
    from grid import dataclass_code

    dataclass_code.install(program)
