"""The cluster's SSH key and Pulumi passphrase: made once, never made again for a cluster that exists."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from grid.identity import KEY_ENV, PASSPHRASE_ENV, IdentityError, ensure_munge_key, resolve_identity
from grid.state.model import ResourceRecord, State


def existing(public_key: str = "") -> State:
    return State(cluster="lab", admin_public_key=public_key, resources={
        "east/train/node-0000": ResourceRecord(address="east/train/node-0000", kind="node", region="east")})


def test_a_new_cluster_gets_a_key_and_passphrase_once(tmp_path: Path) -> None:
    first = resolve_identity(tmp_path, "lab", State(cluster="lab"), env={})
    again = resolve_identity(tmp_path, "lab", existing(first.keypair.public_key), env={})
    assert first == again
    assert (first.keypair.private_path.stat().st_mode & 0o777) == 0o600
    assert first.passphrase_file.read_text().strip()


@pytest.mark.parametrize("lost", ["id_ed25519", "pulumi-passphrase"])
def test_an_existing_cluster_without_its_secrets_is_refused_saying_where_grid_looked(tmp_path: Path,
                                                                                      lost: str) -> None:
    made = resolve_identity(tmp_path, "lab", State(cluster="lab"), env={})
    (tmp_path / "secrets" / lost).unlink()
    with pytest.raises(IdentityError) as caught:
        resolve_identity(tmp_path, "lab", existing(made.keypair.public_key), env={})
    message = caught.value.message
    assert "exists" in message and str(tmp_path / "secrets" / lost) in message
    assert ("SSH key" if lost == "id_ed25519" else "Pulumi passphrase") in message
    assert KEY_ENV in caught.value.hint and PASSPHRASE_ENV in caught.value.hint
    assert not (tmp_path / "secrets" / lost).exists()  # nothing was made in its place


def test_a_key_that_is_not_the_clusters_is_refused(tmp_path: Path) -> None:
    resolve_identity(tmp_path, "lab", State(cluster="lab"), env={})
    other = resolve_identity(tmp_path / "other", "lab", State(cluster="lab"), env={})
    with pytest.raises(IdentityError, match="is not cluster lab's admin key"):
        resolve_identity(tmp_path, "lab", existing(other.keypair.public_key), env={})


def test_secrets_named_by_the_environment_are_used_where_the_work_dir_has_none(tmp_path: Path) -> None:
    made = resolve_identity(tmp_path / "creator", "lab", State(cluster="lab"), env={})
    runner = tmp_path / "runner"
    env = {KEY_ENV: str(made.keypair.private_path), PASSPHRASE_ENV: str(made.passphrase_file)}
    found = resolve_identity(runner, "lab", existing(made.keypair.public_key), env=env)
    assert found.keypair.private_path == made.keypair.private_path
    assert found.keypair.public_key.split()[:2] == made.keypair.public_key.split()[:2]
    assert found.passphrase_file == made.passphrase_file
    assert not (runner / "secrets").exists()
    with pytest.raises(IdentityError, match="names no file"):
        resolve_identity(runner, "lab", existing(), env={KEY_ENV: str(tmp_path / "absent")})


def test_an_encrypted_key_is_refused_plainly(tmp_path: Path) -> None:
    key = tmp_path / "locked"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "secret-words", "-f", str(key)], check=True)
    with pytest.raises(IdentityError, match="unencrypted"):
        resolve_identity(tmp_path, "lab", existing(), env={KEY_ENV: str(key)})


def test_a_rotation_offers_both_keys_until_state_records_the_new_one(tmp_path: Path) -> None:
    from grid.identity import begin_rotation, cancel_rotation, complete_rotation, find_keypair, rotation_pending

    current = resolve_identity(tmp_path, "lab", State(cluster="lab"), env={}).keypair
    state = existing(current.public_key)
    upcoming = begin_rotation(tmp_path, "lab", env={})
    assert begin_rotation(tmp_path, "lab", env={}) == upcoming  # an interrupted rotation keeps its new key
    rotating = resolve_identity(tmp_path, "lab", state, env={})
    assert rotating.keypair.public_key == upcoming.public_key  # nodes are given the new key
    assert rotating.keypair.also == (current.private_path,)  # and grid still offers the old one
    assert rotating.accepted_public_key == current.public_key  # what state keeps recording until it is done
    found = find_keypair(tmp_path, {})
    assert found is not None and found.private_paths == (current.private_path, upcoming.private_path)
    cancel_rotation(tmp_path)
    assert not rotation_pending(tmp_path)
    assert resolve_identity(tmp_path, "lab", state, env={}).keypair == current
    # Done: state records the new key, then the new pair takes the old one's place.
    upcoming = begin_rotation(tmp_path, "lab", env={})
    complete_rotation(tmp_path)
    after = resolve_identity(tmp_path, "lab", existing(upcoming.public_key), env={})
    assert after.keypair.public_key == upcoming.public_key and not after.rotating_from
    assert not rotation_pending(tmp_path)


@pytest.mark.parametrize("cut", ["state recorded, no file moved", "private key moved, public not"])
def test_a_rotation_cut_short_at_its_last_step_is_completed(tmp_path: Path, cut: str) -> None:
    from grid.identity import NEXT_KEY, begin_rotation

    resolve_identity(tmp_path, "lab", State(cluster="lab"), env={})
    upcoming = begin_rotation(tmp_path, "lab", env={})
    secrets = tmp_path / "secrets"
    if cut == "private key moved, public not":
        (secrets / NEXT_KEY).replace(secrets / "id_ed25519")
    identity = resolve_identity(tmp_path, "lab", existing(upcoming.public_key), env={})
    assert identity.keypair.public_key == upcoming.public_key and not identity.rotating_from
    assert identity.keypair.private_path == secrets / "id_ed25519"
    assert sorted(p.name for p in secrets.iterdir()) == ["id_ed25519", "id_ed25519.pub", "pulumi-passphrase"]
    derived = subprocess.run(["ssh-keygen", "-y", "-f", str(secrets / "id_ed25519")], capture_output=True,
                             text=True, check=True).stdout.split()[:2]
    assert derived == upcoming.public_key.split()[:2]


def test_the_munge_key_is_made_once_with_the_clusters_slurm(tmp_path: Path) -> None:
    made = ensure_munge_key(tmp_path, "lab", State(cluster="lab"))
    key = made.read_bytes()
    assert len(key) == 1024 and (made.stat().st_mode & 0o777) == 0o600
    assert ensure_munge_key(tmp_path, "lab", existing()).read_bytes() == key  # found, never made again
    assert list((tmp_path / "secrets").glob(".munge*")) == []  # no temporary file left


def test_a_cluster_running_slurm_without_its_munge_key_is_refused(tmp_path: Path) -> None:
    """A second checkout, a CI job without its secrets: a new key would cut every daemon off from the others."""
    state = existing().model_copy(update={"applied_spec": {"spec": {"scheduler": {"kind": "slurm"}}}})
    with pytest.raises(IdentityError) as caught:
        ensure_munge_key(tmp_path, "lab", state)
    assert "runs Slurm, but its munge key cannot be found" in caught.value.message
    assert str(tmp_path / "secrets" / "munge.key") in caught.value.message
    assert "secrets/" in caught.value.hint
    assert not (tmp_path / "secrets" / "munge.key").exists()
    # A cluster that had no scheduler yet gets its key when Slurm comes.
    assert ensure_munge_key(tmp_path, "lab", existing()).is_file()
