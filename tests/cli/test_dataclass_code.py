"""The kept code of dataclasses' methods (grid.dataclass_code, issue 20's start-up): a class made from kept code is
the class compiled from its text; the file is written as bytecode is (only where Python keeps bytecode, whole,
bounded, by the installing process) and a damaged, foreign or unwritable one costs compiles, never a failure."""

from __future__ import annotations

import dataclasses
import marshal
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from grid import dataclass_code
from grid.dataclass_code import HEADER, CodeByText
from support.paths import LOCAL_LAB


@pytest.fixture(autouse=True)
def keeps_bytecode(monkeypatch: pytest.MonkeyPatch) -> None:
    """As a user's Python does (the tests' environment sets PYTHONDONTWRITEBYTECODE)."""
    monkeypatch.setattr(sys, "dont_write_bytecode", False)


def made_with(cache: CodeByText, monkeypatch: pytest.MonkeyPatch) -> type[Any]:
    """A frozen, slotted dataclass made while `cache` is the dataclasses module's exec."""
    with monkeypatch.context() as patched:  # then as it was (this process may have installed grid's own)
        patched.setattr(dataclasses, "exec", cache.exec, raising=False)

        @dataclasses.dataclass(frozen=True, slots=True, order=True)
        class Node:
            name: str
            index: int = 0
            roles: tuple[str, ...] = ()

        return Node


def behaviour(cls: type[Any]) -> tuple[Any, ...]:
    one, two = cls("a", 1, ("login",)), cls("a", 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.name = "b"
    with pytest.raises(TypeError):
        cls()
    return (repr(one), one == cls("a", 1, ("login",)), one < two, hash(one) == hash(cls("a", 1, ("login",))),
            [f.name for f in dataclasses.fields(cls)], two.roles)


def test_a_class_from_kept_code_behaves_as_one_compiled_now(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "code.bin"
    first = CodeByText(path)
    compiled_now = made_with(first, monkeypatch)
    assert first.compiled > 0
    first.save()
    assert path.read_bytes().startswith(HEADER)
    second = CodeByText(path)
    from_file = made_with(second, monkeypatch)
    assert second.compiled == 0 and second.used  # every method came from the file
    assert behaviour(from_file) == behaviour(compiled_now)


@pytest.mark.parametrize("damage", [
    lambda data: data[: len(data) // 2],  # cut short: a crash while writing would not leave this (renamed)
    lambda data: b"not grid's" + data,
    lambda data: data.replace(HEADER, HEADER[:-4] + b"\0\0\0\0", 1),  # another interpreter's bytecode format
    lambda data: HEADER + marshal.dumps({"text": 42}),
    lambda data: HEADER + marshal.dumps(["a list"]),
    lambda data: b"",
])
def test_a_damaged_or_foreign_file_costs_compiles_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        damage: Callable[[bytes], bytes]) -> None:
    path = tmp_path / "code.bin"
    writer = CodeByText(path)
    reference = behaviour(made_with(writer, monkeypatch))
    writer.save()
    path.write_bytes(damage(path.read_bytes()))
    reader = CodeByText(path)
    assert behaviour(made_with(reader, monkeypatch)) == reference
    assert reader.compiled > 0
    reader.save()  # and the next process finds good code again
    assert CodeByText(path).kept.keys() == reader.kept.keys()


def test_nothing_is_written_without_bytecode_by_a_fork_or_where_it_cannot_be(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "code.bin"
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # PYTHONDONTWRITEBYTECODE set
    cache = CodeByText(path)
    made_with(cache, monkeypatch)
    cache.save()
    assert not path.exists()
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    cache.pid = os.getpid() + 1  # a forked child (Ansible's workers): its parent writes, if anyone
    cache.save()
    assert not path.exists()
    cache.pid = os.getpid()
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the cache directory would be")
    unwritable = CodeByText(blocked / "code.bin")
    made_with(unwritable, monkeypatch)
    unwritable.save()  # no exception: the next run compiles again
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not-a-directory"]


def test_texts_no_longer_used_do_not_pile_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "code.bin"
    stale = {f"def stale_{i}(): pass": compile(f"def stale_{i}(): pass", "<string>", "exec") for i in range(50)}
    path.write_bytes(HEADER + marshal.dumps(stale))
    cache = CodeByText(path)
    made_with(cache, monkeypatch)
    cache.save()
    kept = dataclass_code.read(path)
    assert kept and not kept.keys() & stale.keys() and kept.keys() == cache.used


def test_grid_keeps_the_code_beside_its_bytecode_and_a_second_run_compiles_nothing(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPYCACHEPREFIX": str(tmp_path / "pycache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    probe = "from grid import dataclass_code; print(dataclass_code.cache_path('cli'))"
    where = Path(subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True,
                                check=True).stdout.strip())
    assert where.is_relative_to(tmp_path / "pycache")
    assert where.name == f"dataclass-code.cli.{sys.implementation.cache_tag}.bin"

    def validate() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", "from grid.cli.main import run; run()", "validate",
                               str(LOCAL_LAB)], env=env, capture_output=True, text=True, timeout=120)

    first = validate()
    assert first.returncode == 0, first.stderr
    written = where.read_bytes()
    assert len(dataclass_code.read(where)) > 100  # grid's classes, pydantic's
    second = validate()
    assert (second.returncode, second.stdout, second.stderr) == (0, first.stdout, first.stderr)
    assert where.read_bytes() == written  # nothing compiled, nothing written
    leftovers = [p.name for p in where.parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_where_python_keeps_no_bytecode_grid_keeps_no_code_and_loads_nothing_for_it(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPYCACHEPREFIX": str(tmp_path / "pycache"), "PYTHONDONTWRITEBYTECODE": "1"}
    probe = ("import sys; from grid.cli.main import run; sys.argv[1:] = ['validate', sys.argv[1]]\n"
             "try:\n    run()\nexcept SystemExit as exit:\n    assert exit.code == 0, exit.code\n"
             "assert 'grid.dataclass_code' not in sys.modules")
    done = subprocess.run([sys.executable, "-c", probe, str(LOCAL_LAB)], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert not list(tmp_path.rglob("dataclass-code*"))


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_full_disk_or_ctrl_c_while_writing_leaves_the_old_file_and_no_temporary(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: BaseException) -> None:
    path = tmp_path / "code.bin"
    first = CodeByText(path)
    made_with(first, monkeypatch)
    first.save()
    before = path.read_bytes()
    path.write_bytes(b"")  # the next process finds nothing kept, compiles, and cannot write
    second = CodeByText(path)
    made_with(second, monkeypatch)
    path.write_bytes(before)
    real_write = Path.write_bytes

    def half_then_fail(self: Path, data: bytes) -> int:
        real_write(self, data[: len(data) // 2])
        raise failure

    monkeypatch.setattr(Path, "write_bytes", half_then_fail)
    second.save()  # no exception: it runs at exit
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["code.bin"]
