"""A full disk under the work directory (issue 12 #4): grid's state writes end in a plain StateError that says
so and what to do — not an internal error — and the state on disk stays as it was; once space is freed the
next write simply continues. Uses a real, small tmpfs (needs root)."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from grid.state import FileStateStore, State, StateError, StateUnavailable


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path) -> Path:
    """Take every free byte of `disk`; returns the file to remove to free them again."""
    filler = disk / f"filler-{uuid.uuid4().hex[:6]}"
    with open(filler, "wb", buffering=0) as handle, contextlib.suppress(OSError):
        while True:
            handle.write(b"\0" * 4096)
    with pytest.raises(OSError) as full:
        (disk / "probe").write_bytes(b"x" * 4096)
    assert full.value.errno == errno.ENOSPC
    (disk / "probe").unlink(missing_ok=True)
    return filler


def _state(note: str, size: int = 0) -> State:
    return State(cluster="lab", outputs={"note": note, "padding": "p" * size})


def test_a_full_disk_refuses_the_write_plainly_and_keeps_the_state(small_disk: Path) -> None:
    work = small_disk / "work"
    work.mkdir()
    store = FileStateStore(work)
    store.write(_state("one"), 0)
    with store.lock("grid up"):
        store.write(_state("two"), 1)
        before = store.path.read_bytes()
        filler = _fill(small_disk)
        for attempt in range(4):  # the issue ran four times into it: nothing may wear down
            with pytest.raises(StateUnavailable) as caught:
                store.write(_state(f"three ({attempt})", size=8192), 2)
            assert isinstance(caught.value, StateError)
            assert "no space left on the device" in caught.value.message and str(work) in caught.value.message
            assert "the stored state is unchanged" in caught.value.message
            assert "free space" in caught.value.hint and "run the command again" in caught.value.hint
            assert store.path.read_bytes() == before
        assert not [p.name for p in work.rglob("*.tmp")], "no partial temp file is left behind"
    reread = FileStateStore(work).read()
    assert reread is not None and (reread.serial, reread.state.outputs["note"]) == (2, "two")

    more = _fill(small_disk)  # the released lock gave its page back
    with pytest.raises(StateUnavailable, match=r"take the state lock.*no space left"):
        FileStateStore(work).lock("grid up").__enter__()
    assert FileStateStore(work).lock_holder() is None

    filler.unlink()
    more.unlink()
    with FileStateStore(work).lock("grid up"):
        written = FileStateStore(work).write(_state("three", size=8192), 2)
    assert written.serial == 3
    assert [info.serial for info in FileStateStore(work).backups()] == [2, 1]


def test_other_os_errors_are_not_disguised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what an operator can fix becomes StateUnavailable; anything else stays what it is (a bug)."""
    store = FileStateStore(tmp_path)

    def broken(*args: object) -> None:
        raise OSError(errno.EBADF, "Bad file descriptor")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError) as caught:
        store.write(_state("one"), 0)
    assert not isinstance(caught.value, StateError)
