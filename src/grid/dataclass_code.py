"""The code of dataclasses' generated methods, compiled once and kept beside grid's bytecode (issue 20, start-up).

A dataclass compiles its __init__, __repr__, __eq__, __hash__, __setattr__... from source text each time the
class is made, in every process: ~600 functions and ~40 ms of a no-op `grid up` (grid's own ~100 dataclasses,
pydantic's, annotated_types'). Python keeps modules' bytecode between runs, not these.

`install` gives the dataclasses module an `exec` of its own (a module global shadows the builtin there and only
there) that compiles each text once, as the builtin would have (no inherited flags: dataclasses has none), and
keeps the code by its text in a file where the bytecode of grid's own package lives (its `__pycache__`, or under
PYTHONPYCACHEPREFIX), with the trust of the `.pyc` files there, written as Python writes those: only when it
keeps bytecode at all (not under PYTHONDONTWRITEBYTECODE), whole or not at all (a temporary file renamed), by
the process that installed it (not its forks). A class is made from the same code either way; a file that is
missing, foreign or damaged, or that cannot be written (a read-only install, a full disk), costs the compiles it
would have saved and nothing else.
"""

from __future__ import annotations

import atexit
import builtins
import contextlib
import dataclasses
import importlib.util
import marshal
import os
import sys
import types
from pathlib import Path
from typing import Any

HEADER = b"grid dataclass code\n" + importlib.util.MAGIC_NUMBER  # the interpreter's bytecode format


class CodeByText:
    """`exec` for the dataclasses module: a text compiled before runs from its kept code."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._kept: dict[str, types.CodeType] | None = None  # read at the first class: `--version` makes none
        self.used: set[str] = set()
        self.compiled = 0
        self.pid = os.getpid()

    @property
    def kept(self) -> dict[str, types.CodeType]:
        if self._kept is None:
            self._kept = read(self.path) if self.path is not None else {}
        return self._kept

    def exec(self, source: Any, globals: Any = None, locals: Any = None, /) -> None:
        if type(source) is str:
            code = self.kept.get(source)
            if code is None:
                code = compile(source, "<string>", "exec", dont_inherit=True)
                self.kept[source] = code
                self.compiled += 1
            self.used.add(source)
            source = code
        builtins.exec(source, globals, locals)

    def save(self) -> None:
        """Write the file when this process compiled something (its forks write nothing). It keeps what this
        process used and what others did, unless that is over twice as much: then this process's alone (texts
        of classes since edited do not pile up)."""
        if not self.compiled or self.path is None or os.getpid() != self.pid or sys.dont_write_bytecode:
            return
        kept = self.kept if len(self.kept) <= 2 * len(self.used) else {t: self.kept[t] for t in self.used}
        temporary = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_bytes(HEADER + marshal.dumps(kept))
            os.replace(temporary, self.path)
        except (OSError, ValueError, KeyboardInterrupt):
            # Read-only, full, a code object marshal refuses, or Ctrl-C as the process ends (this runs at exit:
            # a traceback there would be the last thing a user sees): compiled again next time.
            with contextlib.suppress(OSError):
                temporary.unlink()
            return
        self.compiled = 0


_installed: CodeByText | None = None


def install(program: str) -> None:
    """Make dataclasses' methods from kept code from now on in this process (the first call; later ones do
    nothing). `program`: which of grid's programs this is (the CLI, a Pulumi worker, Ansible's command), each
    with its own file: a process reads the code of the classes its program makes, not every program's."""
    global _installed
    if _installed is not None or "exec" in vars(dataclasses):
        return
    _installed = CodeByText(cache_path(program))
    dataclasses.exec = _installed.exec  # type: ignore[attr-defined]
    atexit.register(_installed.save)


def cache_path(program: str) -> Path | None:
    """The file beside grid's own bytecode (None where this interpreter keeps no bytecode)."""
    if sys.implementation.cache_tag is None:
        return None
    try:  # where this module's own bytecode is (or would be)
        beside = Path(importlib.util.cache_from_source(__file__))
    except (NotImplementedError, ValueError, TypeError):  # no bytecode kept; no file (a frozen or zipped grid)
        return None
    optimized = f".opt-{sys.flags.optimize}" if sys.flags.optimize else ""  # python -O compiles otherwise
    return beside.with_name(f"dataclass-code.{program}.{sys.implementation.cache_tag}{optimized}.bin")


def read(path: Path) -> dict[str, types.CodeType]:
    """The kept code of `path`, or nothing when it is missing or not such a file of this interpreter."""
    try:
        data = path.read_bytes()
    except OSError:
        return {}
    if not data.startswith(HEADER):
        return {}  # another interpreter's bytecode format, or not this file at all
    try:
        kept = marshal.loads(data[len(HEADER):])
    except (EOFError, ValueError, TypeError):
        return {}
    if type(kept) is not dict or not all(type(t) is str and type(c) is types.CodeType for t, c in kept.items()):
        return {}
    return kept
