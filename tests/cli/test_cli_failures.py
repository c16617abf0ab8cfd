"""Failures that are not bugs in grid end in a plain error (what happened, what to do), exit 1 and no
traceback — never "internal error … this is a bug in grid"; spec paths that are pipes or devices never
hang grid and never get a work directory in /dev."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from grid.cli.failures import plain_failure
from grid.drivers.pulumi import PulumiFailed
from grid.spec import loader
from grid.state import StateConflict, StateError
from support.cli import Run, grid
from support.paths import EXAMPLES, GRID

SPEC_TEXT = (EXAMPLES / "local-lab" / "cluster.yaml").read_text()
WRONG_PASSPHRASE = [  # what the pulumi CLI (v3.274) says, as grid's worker hands it on
    "error: getting stack configuration: get stack secrets manager: incorrect passphrase",
    "error: failed to decrypt: incorrect passphrase, please set PULUMI_CONFIG_PASSPHRASE to the correct "
    "passphrase or set PULUMI_CONFIG_PASSPHRASE_FILE to a file containing the passphrase",
]


def _plain(run: Run, *expected: str) -> None:
    assert run.code == 1, run.output
    assert "internal error" not in run.output and "this is a bug" not in run.output, run.output
    for text in expected:
        assert text in run.stderr, run.output


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "cluster.yaml"
    path.write_text(SPEC_TEXT)
    return path


# -- the mapping, with the errors as the core raises them --------------------------------------------

def test_state_errors_keep_their_message_and_hint() -> None:
    conflict = StateConflict("the state changed since it was read (serial 8 in the database, 7 expected): "
                             "another grid wrote it", "run the command again so it plans against the new state")
    failed = plain_failure(conflict)
    assert failed is not None and failed.code == 1
    assert failed.message == conflict.message and failed.hint == conflict.hint
    bare = plain_failure(StateError("cannot reach the state database at db:5432"))
    assert bare is not None and "run the command again" in bare.hint


def test_a_full_disk_anywhere_in_the_chain_is_a_full_disk() -> None:
    try:
        try:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/w/rendered/site.yml")
        except OSError as exc:
            raise RuntimeError("render failed") from exc
    except RuntimeError as exc:
        failed = plain_failure(exc)
    assert failed is not None
    assert failed.message == "no space left on device writing /w/rendered/site.yml"
    assert "df -h /w/rendered/site.yml" in failed.hint and "run the command again" in failed.hint
    pulumi = plain_failure(PulumiFailed("east", "error: write /w/pulumi-backend/x: no space left on device"))
    assert pulumi is not None and "no space left on device" in pulumi.message


@pytest.mark.parametrize("text", WRONG_PASSPHRASE)
def test_a_wrong_pulumi_passphrase_says_which_file_and_what_to_do(text: str) -> None:
    failed = plain_failure(PulumiFailed("east", text))
    assert failed is not None and failed.code == 1
    assert "cannot decrypt the stack of region east" in failed.message
    assert "secrets/pulumi-passphrase" in failed.message and "do not make a new one" in failed.hint


def test_an_unreachable_database_is_no_bug() -> None:
    psycopg = pytest.importorskip("psycopg")
    failed = plain_failure(psycopg.OperationalError("connection to server at \"db\" failed: Connection refused"))
    assert failed is not None and "state database" in failed.message and "PostgreSQL" in failed.hint


def test_a_real_bug_stays_a_bug() -> None:
    assert plain_failure(KeyError("address")) is None
    assert plain_failure(OSError(errno.EBADF, "Bad file descriptor")) is None


# -- spec paths that are not files -------------------------------------------------------------------

def test_a_fifo_nobody_writes_to_ends_in_an_error_not_a_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "spec.fifo"
    os.mkfifo(fifo)
    started = time.monotonic()
    for command in ("validate", "plan"):
        ran = grid(command, str(fifo), "--workdir", str(tmp_path / "work"), timeout=60) \
            if command == "plan" else grid(command, str(fifo), timeout=60)
        _plain(ran, "nothing arrived from", "save the spec to a file")
    assert time.monotonic() - started < 2 * loader.STREAM_IDLE_SECONDS + 20


@contextlib.contextmanager
def _writer(fifo: Path, text: str) -> Iterator[None]:
    thread = threading.Thread(target=fifo.write_text, args=(text,), daemon=True)
    thread.start()
    yield
    thread.join(timeout=5)


def test_a_fifo_with_a_writer_is_read_and_needs_a_work_directory(tmp_path: Path) -> None:
    fifo = tmp_path / "spec.fifo"
    os.mkfifo(fifo)
    with _writer(fifo, SPEC_TEXT):
        refused = grid("plan", str(fifo), timeout=60)
    _plain(refused, "not a regular file", "--workdir")
    assert not (tmp_path / ".grid").exists()
    with _writer(fifo, SPEC_TEXT):
        planned = grid("plan", str(fifo), "--workdir", str(tmp_path / "work"), timeout=60)
    assert planned.code == 0 and "to create" in planned.stdout, planned.output


def _bash(script: str, spec: Path, tmp_path: Path) -> Run:
    proc = subprocess.run(["bash", "-c", script], env={**os.environ, "CI": "true", "GRID": GRID, "SPEC": str(spec),
                                                       "WORK": str(tmp_path / "work")},
                          capture_output=True, text=True, timeout=60, check=False)
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    return Run(proc.returncode, proc.stdout, proc.stderr)


def test_process_substitution_needs_a_work_directory(spec: Path, tmp_path: Path) -> None:
    """`grid plan <(…)` reads /dev/fd/N: it is planned only against the state --workdir names."""
    _plain(_bash('"$GRID" plan <(cat "$SPEC")', spec, tmp_path), "/dev/fd/", "pass --workdir")
    assert not (tmp_path / ".grid").exists()
    planned = _bash('"$GRID" plan <(cat "$SPEC") --workdir "$WORK"', spec, tmp_path)
    assert planned.code == 0 and "to create" in planned.stdout, planned.stderr
    valid = _bash('"$GRID" validate <(cat "$SPEC")', spec, tmp_path)
    assert valid.code == 0, valid.stderr


@pytest.mark.parametrize("how", ["piped", "redirected from a file"])
def test_stdin_as_the_spec_plans_only_with_a_work_directory(spec: Path, tmp_path: Path, how: str) -> None:
    feed = 'cat "$SPEC" | ' if how == "piped" else ""
    tail = "" if how == "piped" else ' < "$SPEC"'
    _plain(_bash(f'{feed}"$GRID" plan /dev/stdin{tail}', spec, tmp_path), "/dev/stdin", "pass --workdir")
    assert not Path("/dev/.grid").exists(), "a work directory was made in /dev"
    planned = _bash(f'{feed}"$GRID" plan /dev/stdin --workdir "$WORK"{tail}', spec, tmp_path)
    assert planned.code == 0 and "to create" in planned.stdout, planned.stderr
    assert (tmp_path / "work").is_dir()
    assert _bash(f'{feed}"$GRID" validate /dev/stdin{tail}', spec, tmp_path).code == 0


# -- work directories that cannot be ---------------------------------------------------------------

def test_a_work_directory_that_is_a_file(spec: Path, tmp_path: Path) -> None:
    occupied = tmp_path / "work"
    occupied.write_text("not a directory\n")
    for args in (("plan", str(spec)), ("up", str(spec), "--yes"), ("state", "list", str(spec))):
        _plain(grid(*args, "--workdir", str(occupied)), f"the work directory {occupied} is a file",
               "pass --workdir with a directory")
    assert occupied.read_text() == "not a directory\n"
    (tmp_path / ".grid").write_text("")  # the default place, <spec dir>/.grid/<cluster>, blocked
    _plain(grid("plan", str(spec)), "a part of that path is a file")


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs with no space left (root only)."""
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True,
                          check=False)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    try:
        with contextlib.suppress(OSError), open(mount / "filler", "wb") as filler:
            while True:
                filler.write(b"\0" * 4096)
                filler.flush()
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_is_a_plain_error(spec: Path, full_disk: Path) -> None:
    for args in (("plan", str(spec), "--out", str(full_disk / "plan.json")),
                 ("render", str(spec), "-o", str(full_disk / "rendered")),
                 ("up", str(spec), "--yes", "--workdir", str(full_disk / "work"))):
        _plain(grid(*args), "no space left on", "free space", "run the command again")
