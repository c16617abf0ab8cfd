"""The state in a work directory: the local-file implementation of every role of grid.state.roles.

Layout of a work directory:
    state.json                     current envelope (0600)
    backups/state.<serial>.json    the previous N versions (hard links of the replaced files), pruned oldest
                                   written first (mtime, then serial): a serial never decides alone
    state.json.corrupt-<time>      a damaged file set aside by `restore`, never deleted by grid
    state.lock, .lock.guard        see grid.state.lock
    state.index.json, state.seal.json  a sealed plan's hints (grid.state.seal): offsets and digests only
Pulumi's stacks go beside it, in a DIY file backend (`pulumi-backend/` of the work directory).
Callers hold `store.lock(...)` across read → plan → apply → write; the serial check in `write`
is the second line of defence (and the guard makes check-and-replace atomic among writers).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

from grid.killpoints import kill_point
from grid.state import _osutil as osu
from grid.state import codec, seal
from grid.state import lock as locking
from grid.state.errors import (
    BackupNotFound,
    StateConflict,
    StateCorrupted,
    StateMissing,
    StateTooNew,
    storage_errors,
)
from grid.state.history import append_history, history_entry
from grid.state.holder import LockHolder, Status
from grid.state.lease import Lease
from grid.state.model import FORMAT_VERSION, Envelope, State
from grid.state.roles import BackupInfo, PulumiBackend, Restored, StateStore

STATE_FILE = "state.json"
BACKUP_DIR = "backups"
DEFAULT_KEEP = 10
_TEMP_MAX_AGE_SECONDS = 600
_BACKUP_NAME = re.compile(r"state\.(\d+)\.json")


_Identity = tuple[int, int, int, int]


class FileStateStore:
    """`state.json` in `workdir`; `pulumi_home`: the work directory whose `pulumi-backend/` keeps the Pulumi
    stacks, when the state is kept elsewhere (`--state file://DIR`)."""

    def __init__(self, workdir: Path, *, keep: int = DEFAULT_KEEP, pulumi_home: Path | None = None) -> None:
        if keep < 0:
            raise ValueError("keep must be >= 0")
        self.workdir = workdir
        self.keep = keep
        self.pulumi_home = pulumi_home or workdir
        # (file identity, header) of the last version we read or wrote: a write that finds the file
        # unchanged since then skips re-reading 10^5 records to check serial and integrity.
        self._known: tuple[_Identity, codec.Header] | None = None

    @property
    def path(self) -> Path:
        return self.workdir / STATE_FILE

    @property
    def backup_dir(self) -> Path:
        return self.workdir / BACKUP_DIR

    # -- location --------------------------------------------------------------------------------

    @property
    def where(self) -> str:
        return str(self.path)

    @property
    def is_shared(self) -> bool:
        return False

    def pulumi_backend(self) -> PulumiBackend:
        # Absolute: Pulumi runs in its own work directory, where a relative path would mean something else.
        return PulumiBackend(f"file://{self.pulumi_home.resolve() / 'pulumi-backend'}")

    @property
    def backup_location(self) -> str:
        return str(self.backup_dir)

    def read(self) -> Envelope | None:
        """The verified current envelope; None when there is no state yet (and no backups)."""
        with storage_errors(self.workdir, "read the state"):
            envelope = self._load()
            if envelope is None:
                self._refuse_if_orphaned()
        return envelope

    def pull(self) -> bytes | None:
        """The current envelope exactly as stored, after full verification; None when there is none."""
        with storage_errors(self.workdir, "read the state"):
            loaded = self._load_raw()
        if loaded is None:
            self._refuse_if_orphaned()
            return None
        return loaded[0]

    def write(self, state: State, expected_serial: int) -> Envelope:
        body, digest, spans = codec.encode_state_spans(state)  # outside the guard: the slow part needs no serial
        with storage_errors(self.workdir, "save the state"), osu.guard(self.workdir / locking.GUARD_FILE):
            current = self._current_header()
            on_disk = current.serial if current else 0
            if on_disk != expected_serial:
                raise StateConflict(
                    f"the state changed since it was read (serial {on_disk} on disk, {expected_serial} "
                    "expected): another grid wrote it",
                    "run the command again so it plans against the new state",
                    expected=expected_serial, actual=on_disk)
            lineage = current.lineage if current and current.lineage else new_lineage()
            # Above every backup too: a serial is never reused, so no backup is overwritten (a format 1
            # file's serial may have been lowered by hand: its checksum did not cover it).
            serial = max([on_disk, *self._backup_serials()]) + 1
            header = self._commit(body, digest, serial=serial, lineage=lineage,
                                  previous=on_disk if current else None, spans=spans)
        return Envelope(format_version=header.format_version, serial=header.serial, lineage=header.lineage,
                        checksum=header.checksum, state=state)

    def import_envelope(self, raw: bytes) -> bool:
        """Write a verified envelope as state.json unchanged; an older version there is kept in backups/ first."""
        envelope = codec.decode(raw, "the migrated state")
        with storage_errors(self.workdir, "save the state"), osu.guard(self.workdir / locking.GUARD_FILE):
            current = self._load()
            if current is not None:
                refuse_import(str(self.path), current.serial, current.lineage, current.checksum, envelope)
                if current.serial == envelope.serial:
                    return True
                if not self._backup_path(current.serial).exists():
                    self._backup_current(current.serial)
            temp = osu.write_temp(self.workdir, (raw,), prefix=".state.")
            seal.forget(self.workdir)  # offsets of this file's members are not known here
            try:
                os.replace(temp, self.path)
            except BaseException:
                temp.unlink(missing_ok=True)
                raise
            osu.fsync_dir(self.workdir)
            self._known = None
        return False

    def lock(self, command: str, *, lease_seconds: float = locking.DEFAULT_LEASE_SECONDS,
             break_stale: bool = False) -> contextlib.AbstractContextManager[Lease]:
        return locking.held_lock(self.workdir, command, lease_seconds=lease_seconds, break_stale=break_stale)

    def lock_holder(self) -> LockHolder | None:
        return locking.read_lock(self.workdir)

    def lock_status(self) -> Status | None:
        holder = locking.read_lock(self.workdir)
        return None if holder is None else locking.assess(holder)

    def unlock(self, *, force: bool = False) -> LockHolder | None:
        return locking.unlock(self.workdir, force=force)

    def backups(self) -> list[BackupInfo]:
        """Backups, newest written first, each with its checksum verified."""
        found = []
        for serial, written_ns in self._backups_newest_first():
            path = self._backup_path(serial)
            try:
                written = datetime.fromtimestamp(written_ns / 1e9, UTC)
                codec.verify(path.read_bytes(), f"{BACKUP_DIR}/{path.name}")
                problem = ""
            except FileNotFoundError:
                continue  # pruned by a concurrent writer
            except (StateCorrupted, StateTooNew) as exc:
                problem = exc.message
            found.append(BackupInfo(serial, path, osu.iso(written), problem))
        return found

    def restore(self, serial: int, *, command: str = "") -> Restored:
        """Make backup `serial` current under a new serial; a damaged current file is set aside, not lost."""
        name = f"{BACKUP_DIR}/state.{serial}.json"
        try:
            raw = self._backup_path(serial).read_bytes()
        except FileNotFoundError:
            have = ", ".join(str(s) for s in sorted(self._backup_serials(), reverse=True)) or "none"
            raise BackupNotFound(f"there is no backup with serial {serial} (available: {have})",
                                 "`grid state restore SPEC` lists backups") from None
        try:
            backup = codec.decode(raw, name)
        except StateCorrupted as exc:
            raise StateCorrupted(exc.message, "pick another serial from `grid state restore SPEC`") from None
        with storage_errors(self.workdir, "restore the state"), osu.guard(self.workdir / locking.GUARD_FILE):
            try:
                current, damaged = self._load(), False
            except StateCorrupted:  # StateTooNew propagates: that file belongs to a newer grid
                current, damaged = None, True
            known = [*self._backup_serials(), current.serial if current else 0]
            if damaged:
                known.append(codec.peek_serial(self.path.read_bytes()) or 0)
            new_serial = max(known) + 1
            state = backup.state
            if command:
                state = append_history(state, history_entry(new_serial, command))
            body, digest, spans = codec.encode_state_spans(state)
            kept = self._set_aside() if damaged else None
            lineage = backup.lineage or new_lineage()
            header = self._commit(body, digest, serial=new_serial, lineage=lineage,
                                  previous=current.serial if current else None, spans=spans)
        envelope = Envelope(format_version=header.format_version, serial=header.serial,
                            lineage=header.lineage, checksum=header.checksum, state=state)
        return Restored(envelope, serial, kept)

    def read_sealed(self) -> seal.Sealed | None:
        """The state as a sealed plan reads it (grid.state.seal), or None when no seal applies to it."""
        with storage_errors(self.workdir, "read the state"):
            return seal.read_sealed(self.workdir, STATE_FILE)

    def seal(self, envelope: Envelope, inputs: str) -> None:
        """Record that a plan of `inputs` against `envelope` (as read from here) changes nothing (grid.state.seal)."""
        seal.index_for(self.workdir, envelope)
        seal.write_seal(self.workdir, envelope.checksum, inputs, resources=len(envelope.state.resources),
                        hosts=len(envelope.state.hosts))

    # -- internals -------------------------------------------------------------------------------

    def _load(self) -> Envelope | None:
        loaded = self._load_raw()
        return loaded[1] if loaded else None

    def _load_raw(self) -> tuple[bytes, Envelope] | None:
        try:
            with open(self.path, "rb") as handle:
                identity = _identity(os.fstat(handle.fileno()))
                raw = handle.read()
        except FileNotFoundError:
            return None
        envelope = codec.decode(raw, STATE_FILE)
        self._known = (identity, codec.Header(envelope.format_version, envelope.serial,
                                              envelope.lineage, envelope.checksum))
        return raw, envelope

    def _refuse_if_orphaned(self) -> None:
        """A missing state.json next to backups means lost state, not a new cluster: starting over
        would plan to create again everything that already exists."""
        serials = self._backup_serials()
        if serials:
            raise StateMissing(
                f"{self.path} is missing but {self.backup_dir} holds earlier versions "
                f"(latest serial {max(serials)}); grid will not start a new state over them",
                f"`grid state restore SPEC {max(serials)}` brings the latest back; "
                f"move {BACKUP_DIR}/ away to start afresh")

    def _current_header(self) -> codec.Header | None:
        """Serial and lineage on disk, verifying the file unless it is the very one we last saw."""
        try:
            identity = _identity(os.stat(self.path))
        except FileNotFoundError:
            self._refuse_if_orphaned()
            return None
        if self._known is not None and self._known[0] == identity:
            return self._known[1]
        self._load()
        return self._known[1] if self._known else None

    def _commit(self, body: bytes, digest: str, *, serial: int, lineage: str, previous: int | None,
                spans: dict[str, tuple[int, int]]) -> codec.Header:
        chunks = codec.envelope_chunks(body, digest, serial=serial, lineage=lineage)
        temp = osu.write_temp(self.workdir, chunks, prefix=".state.")
        try:
            if previous is not None:
                self._backup_current(previous)
            kill_point("state.commit")  # crash tests: temp written and backup linked, not yet renamed
            os.replace(temp, self.path)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        osu.fsync_dir(self.workdir)
        header = codec.Header(FORMAT_VERSION, serial, lineage,
                              codec.envelope_checksum(digest, serial=serial, lineage=lineage))
        at = len(chunks[0])  # where the body starts in the file
        seal.write_index(self.workdir, header.checksum, {k: (at + a, at + b) for k, (a, b) in spans.items()})
        self._sweep_temps()
        self._known = (_identity(os.stat(self.path)), header)
        self._prune()
        return header

    def _backup_current(self, serial: int) -> None:
        """Keep the file about to be replaced: a hard link costs nothing, whatever the state's size."""
        self.backup_dir.mkdir(mode=osu.DIR_MODE, exist_ok=True)
        target = self._backup_path(serial)
        target.unlink(missing_ok=True)
        try:
            os.link(self.path, target)
        except OSError:  # filesystems without hard links: copy durably instead
            copy = osu.write_temp(self.backup_dir, (self.path.read_bytes(),), prefix=".state.")
            os.replace(copy, target)
        os.chmod(target, osu.FILE_MODE)
        osu.fsync_dir(self.backup_dir)

    def _set_aside(self) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        target = self.workdir / f"{STATE_FILE}.corrupt-{stamp}"
        n = 0
        while target.exists():
            n += 1
            target = self.workdir / f"{STATE_FILE}.corrupt-{stamp}-{n}"
        try:
            os.link(self.path, target)
        except OSError:  # no hard links here
            shutil.copy2(self.path, target)
        osu.fsync_dir(self.workdir)
        return target

    def _sweep_temps(self) -> None:
        """Remove temp files of writers that were killed mid-write (tens of MB each at scale).

        Called under the guard, where no live writer of this directory has a temp file in flight;
        the age check is a second safety for writers that do not take the guard.
        """
        cutoff = datetime.now(UTC).timestamp() - _TEMP_MAX_AGE_SECONDS
        for directory in (self.workdir, self.backup_dir):
            for temp in [*directory.glob(".state.*.tmp"), *directory.glob(".state-lock.*.tmp")]:
                with contextlib.suppress(OSError):
                    if temp.stat().st_mtime < cutoff:
                        temp.unlink()

    def _prune(self) -> None:
        for serial, _ in self._backups_newest_first()[self.keep:]:
            self._backup_path(serial).unlink(missing_ok=True)

    def _backups_newest_first(self) -> list[tuple[int, int]]:
        """(serial, written at in ns) of each backup, the most recently written first.

        By time written, not by serial: a serial that went backwards (a hand-edited format 1 file, a state
        copied in from elsewhere) must not make every new backup the first to be pruned. Equal times (coarse
        filesystem clocks) fall back to the serial.
        """
        found = []
        for serial in self._backup_serials():
            with contextlib.suppress(FileNotFoundError):  # pruned by a concurrent writer
                found.append((serial, self._backup_path(serial).stat().st_mtime_ns))
        return sorted(found, key=lambda item: (item[1], item[0]), reverse=True)

    def _backup_serials(self) -> list[int]:
        try:
            names = os.listdir(self.backup_dir)
        except FileNotFoundError:
            return []
        return [int(m[1]) for m in map(_BACKUP_NAME.fullmatch, names) if m]

    def _backup_path(self, serial: int) -> Path:
        return self.backup_dir / f"state.{serial}.json"


def new_lineage() -> str:
    import uuid  # only a first write needs it (uuid imports platform: ~5 ms of every start-up)

    return str(uuid.uuid4())


def _identity(st: os.stat_result) -> _Identity:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def refuse_import(where: str, serial: int, lineage: str, checksum: str, incoming: Envelope) -> None:
    """Raise StateConflict unless `incoming` may replace the version (serial, lineage, checksum) there."""
    if lineage and lineage != incoming.lineage:
        raise StateConflict(
            f"{where} already holds a different state (lineage {lineage}, serial {serial}); grid migrates "
            "only into an empty location or over an older copy of the same state",
            "pick an empty location, or remove that state there first",
            expected=incoming.serial, actual=serial)
    if serial > incoming.serial or (serial == incoming.serial and checksum != incoming.checksum):
        raise StateConflict(
            f"{where} holds a newer or diverged version of this state (serial {serial}; migrating serial "
            f"{incoming.serial})", "migrate in the other direction, or compare both with `grid state pull`",
            expected=incoming.serial, actual=serial)


__all__ = ["BACKUP_DIR", "DEFAULT_KEEP", "STATE_FILE", "BackupInfo", "FileStateStore",
           "Restored", "StateStore", "refuse_import"]
