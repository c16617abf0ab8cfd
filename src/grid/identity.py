"""The cluster's identity: its admin SSH key pair and the passphrase Pulumi encrypts stack secrets with.

Both are made once, when a cluster is first applied. After that they *are* the cluster: a runner that
lacks them (a CI job that forgot a secret, a second checkout) must not make new ones — a new key locks
grid out of every node, a new passphrase cannot read the stacks. So once state records resources, a
missing or different secret is an error that says where grid looked and how to provide it.

Where grid looks, in order:
- SSH key: `GRID_SSH_KEY_FILE` (a private key file; its public half is derived), else
  `WORKDIR/secrets/id_ed25519` (+ `.pub`).
- Pulumi passphrase: `PULUMI_CONFIG_PASSPHRASE_FILE` (Pulumi's own variable), else
  `WORKDIR/secrets/pulumi-passphrase`.
- Munge key (a spec with a scheduler: every Slurm daemon authenticates with it): `WORKDIR/secrets/munge.key`.
State records the admin *public* key (`State.admin_public_key`), so a key that is present but not the
cluster's is refused too.

Rotation (`grid up --rotate-ssh-key`) is a planned reconfiguration, never a replacement: a new pair is made
beside the current one (`secrets/id_ed25519.next`); while it exists, nodes are given the new key and grid
offers both when it connects, so hosts rotated and not rotated yet both let it in. Once every host has the
new key, state records it and the new pair takes the current one's place (`complete_rotation`). A run
stopped half-way leaves a rotation the next run goes on with.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from grid.drivers.ssh import KeyPair, ensure_keypair, ensure_passphrase, existing_keypair
from grid.state.errors import StateError
from grid.state.model import State

KEY_ENV = "GRID_SSH_KEY_FILE"
NEXT_KEY = "id_ed25519.next"
PASSPHRASE_ENV = "PULUMI_CONFIG_PASSPHRASE_FILE"
PROVIDE_HINT = ("copy the cluster's `secrets/` folder from the machine that created it into {workdir}, or point "
                f"{KEY_ENV} / {PASSPHRASE_ENV} at the files (examples/ci/README.md shows a pipeline doing it)")


class IdentityError(StateError):
    """The cluster exists, and its SSH key or Pulumi passphrase is missing here or is not the cluster's."""


@dataclass(frozen=True)
class Identity:
    keypair: KeyPair  # the admin key nodes are given (the new one while rotating; `also` has the old one)
    passphrase_file: Path
    rotating_from: str = ""  # while rotating: the public key being replaced, the one state records

    @property
    def accepted_public_key(self) -> str:
        """The key every node surely accepts: what state records."""
        return self.rotating_from or self.keypair.public_key


def cluster_exists(state: State) -> bool:
    """Whether something was made with the current identity: then it must never be re-made silently."""
    return bool(state.resources) or bool(state.hosts)


def recorded_public_key(state: State) -> str:
    return state.admin_public_key


def find_keypair(workdir: Path, env: Mapping[str, str] | None = None) -> KeyPair | None:
    """The admin key pair where grid looks for it (see the module doc), without making one."""
    env = os.environ if env is None else env
    named = env.get(KEY_ENV, "").strip()
    if not named:
        found = existing_keypair(workdir)
        upcoming = _next_keypair(workdir)
        if found is not None and upcoming is not None:  # rotating: hosts may have either key
            return KeyPair(found.private_path, found.public_key, also=(upcoming.private_path,))
        return found
    private = Path(named)
    if not private.is_file():
        raise IdentityError(f"{KEY_ENV}={named} names no file", f"point {KEY_ENV} at the cluster's private key")
    try:
        public = subprocess.run(["ssh-keygen", "-y", "-f", str(private)], capture_output=True, text=True,
                                check=True, stdin=subprocess.DEVNULL).stdout.strip()
    except subprocess.CalledProcessError:
        raise IdentityError(f"{KEY_ENV}={named} is not a readable, unencrypted SSH private key",
                            "grid needs the key without a passphrase (an agent is not used)") from None
    return KeyPair(private, public)


def planned_public_key(workdir: Path, state: State) -> str:
    """The admin public key the next apply gives the nodes (a rotation's new key while one is under way);
    the one state records when this runner has no key (planning needs no private key)."""
    upcoming = None if os.environ.get(KEY_ENV, "").strip() else _next_keypair(workdir)
    if upcoming is not None:
        return upcoming.public_key
    found = find_keypair(workdir)
    return found.public_key if found is not None else recorded_public_key(state)


def resolve_identity(workdir: Path, cluster: str, state: State, *,
                     env: Mapping[str, str] | None = None) -> Identity:
    """The identity to act with: found where grid looks, or made new only while nothing exists yet."""
    env = os.environ if env is None else env
    exists = cluster_exists(state)
    recorded = recorded_public_key(state)
    if not env.get(KEY_ENV, "").strip():
        _settle_rotation(workdir, recorded)
    looked: list[str] = []
    keypair = find_keypair(workdir, env)
    if keypair is None:
        looked.append(f"{workdir / 'secrets' / 'id_ed25519'} (or {KEY_ENV})")
    passphrase = _find_passphrase(workdir, env)
    if passphrase is None:
        looked.append(f"{workdir / 'secrets' / 'pulumi-passphrase'} (or {PASSPHRASE_ENV})")
    if looked and exists:
        raise IdentityError(
            f"cluster {cluster} exists (state records {len(state.resources)} resources), but its "
            + " and ".join(("SSH key" if "id_ed25519" in item else "Pulumi passphrase") for item in looked)
            + " cannot be found; grid looked in " + "; ".join(looked)
            + ". grid does not make new ones for an existing cluster: nodes would be replaced or unreachable",
            PROVIDE_HINT.format(workdir=workdir / "secrets"))
    if keypair is None:
        keypair = ensure_keypair(workdir, comment=f"grid-{cluster}")
    if passphrase is None:
        passphrase = ensure_passphrase(workdir)
    if exists and recorded and _key_blob(recorded) != _key_blob(keypair.public_key):
        raise IdentityError(
            f"the SSH key at {keypair.private_path} is not cluster {cluster}'s admin key (state records "
            f"{_short(recorded)}, this one is {_short(keypair.public_key)}): its nodes would not let grid in",
            PROVIDE_HINT.format(workdir=workdir / "secrets"))
    upcoming = None if env.get(KEY_ENV, "").strip() else _next_keypair(workdir)
    if upcoming is None:
        return Identity(keypair, passphrase)
    return Identity(KeyPair(upcoming.private_path, upcoming.public_key, also=(keypair.private_path,)),
                    passphrase, rotating_from=keypair.public_key)


def begin_rotation(workdir: Path, cluster: str, *, env: Mapping[str, str] | None = None) -> KeyPair:
    """Make the new admin key pair (once: a rotation under way keeps its new key)."""
    env = os.environ if env is None else env
    if env.get(KEY_ENV, "").strip():
        raise IdentityError(f"the admin key comes from {KEY_ENV}: grid rotates only the key it keeps in "
                            f"{workdir / 'secrets'}", f"rotate it there (unset {KEY_ENV}), or replace the file "
                            "you point at and the nodes' keys yourself")
    found = _next_keypair(workdir)
    if found is not None:
        return found
    made = ensure_keypair(workdir, comment=f"grid-{cluster}", name=NEXT_KEY)
    return made


def rotation_pending(workdir: Path) -> bool:
    return _next_keypair(workdir) is not None


def cancel_rotation(workdir: Path) -> None:
    """Forget a new pair no node has been given yet (the operator declined the plan)."""
    for name in (NEXT_KEY, f"{NEXT_KEY}.pub"):
        (workdir / "secrets" / name).unlink(missing_ok=True)


def complete_rotation(workdir: Path) -> None:
    """The new pair takes the current one's place: the private key first, then the public one (a run killed
    between the two is completed by the next, see _settle_rotation). Call only once state records the new key."""
    secrets = workdir / "secrets"
    new_private, new_public = secrets / NEXT_KEY, secrets / f"{NEXT_KEY}.pub"
    if new_private.is_file():
        os.replace(new_private, secrets / "id_ed25519")
    if new_public.is_file():
        os.replace(new_public, secrets / "id_ed25519.pub")
    fd = os.open(secrets, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _settle_rotation(workdir: Path, recorded: str) -> None:
    """Finish a rotation whose last step was cut short: state records the new key, or only the private half
    of the new pair was moved into place."""
    secrets = workdir / "secrets"
    new_private, new_public = secrets / NEXT_KEY, secrets / f"{NEXT_KEY}.pub"
    if new_public.is_file() and not new_private.exists():
        complete_rotation(workdir)
        return
    upcoming = _next_keypair(workdir)
    if upcoming is not None and recorded and _key_blob(recorded) == _key_blob(upcoming.public_key):
        complete_rotation(workdir)


def _next_keypair(workdir: Path) -> KeyPair | None:
    private = workdir / "secrets" / NEXT_KEY
    public = private.with_name(f"{NEXT_KEY}.pub")
    if private.is_file() and public.is_file():
        return KeyPair(private, public.read_text().strip())
    return None


MUNGE_KEY = "munge.key"
MUNGE_KEY_BYTES = 1024  # what mungekey(8) makes by default


def ensure_munge_key(workdir: Path, cluster: str, state: State) -> Path:
    """The cluster's munge key (0600 in the secrets folder): made with the cluster's Slurm, found afterwards. A
    cluster whose last applied spec had a scheduler and whose key is missing here is refused: a new key would stop
    every daemon's RPCs until each host got it, and fight the checkout that has the real one."""
    path = workdir / "secrets" / MUNGE_KEY
    if path.is_file() and path.stat().st_size > 0:
        return path
    applied = state.applied_spec or {}
    if cluster_exists(state) and (applied.get("spec") or {}).get("scheduler"):
        raise IdentityError(
            f"cluster {cluster} runs Slurm, but its munge key cannot be found (grid looked in {path}); grid does "
            "not make a new one for a running scheduler: its daemons would stop talking to each other",
            PROVIDE_HINT.format(workdir=workdir / "secrets"))
    folder = path.parent
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    made = folder / f".{MUNGE_KEY}.{os.getpid()}.tmp"
    fd = os.open(made, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(os.urandom(MUNGE_KEY_BYTES))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(made, path)  # whole or absent: a run killed here leaves no half key
    return path


def _find_passphrase(workdir: Path, env: Mapping[str, str]) -> Path | None:
    named = env.get(PASSPHRASE_ENV, "").strip()
    if named:
        path = Path(named)
        if not path.is_file() or not path.read_text().strip():
            raise IdentityError(f"{PASSPHRASE_ENV}={named} names no file with a passphrase",
                                f"point {PASSPHRASE_ENV} at the file holding the cluster's Pulumi passphrase")
        return path
    path = workdir / "secrets" / "pulumi-passphrase"
    try:
        return path if path.is_file() and path.read_text().strip() else None
    except OSError:
        return None


def _key_blob(public_key: str) -> str:
    parts = public_key.split()
    return parts[1] if len(parts) > 1 else public_key


def _short(public_key: str) -> str:
    blob = _key_blob(public_key)
    return f"{public_key.split()[0]} …{blob[-12:]}" if " " in public_key else f"…{blob[-12:]}"
