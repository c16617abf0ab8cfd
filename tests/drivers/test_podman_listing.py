"""grid.drivers.podman_listing: the probe's podman listing started at `grid up`'s entry (issue 20, start-up) is
used only when nothing can have changed since it started, and then says exactly what the probe's own says."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from grid.drivers import podman_listing

OBJECTS = {
    "ps": [{"Names": ["grid-lab-east-a"], "State": "running", "Labels": {"grid.cluster": "lab"}},
           {"Names": ["grid-labs-east-a"], "State": "running", "Labels": {"grid.cluster": "labs"}}],
    "network": [{"name": "grid-lab-east-mgmt", "labels": {"grid.cluster": "lab"}}],
    "volume": [{"Name": "grid-other-v", "Labels": {"grid.cluster": "other"}}],
}


@pytest.fixture
def fake_podman(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A `podman` on PATH that prints OBJECTS' listing for its first word and records each call."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    script = bin_dir / "podman"
    script.write_text(f"#!/bin/sh\necho \"$@\" >> {calls}\ncase \"$1\" in\n"
                      + "".join(f"  {kind}) echo '{json.dumps(listing)}' ;;\n" for kind, listing in OBJECTS.items())
                      + "esac\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    yield calls
    podman_listing._discard()


def old_state(tmp_path: Path) -> Path:
    state = tmp_path / "state.json"
    state.write_text("{}")
    long_ago = time.time_ns() - 10 * podman_listing.MARGIN_NS
    os.utime(state, ns=(long_ago, long_ago))
    return state


def test_a_listing_trusted_under_the_lock_is_the_cluster_s_own(fake_podman: Path, tmp_path: Path) -> None:
    podman_listing.start()
    podman_listing.check(old_state(tmp_path))
    containers, networks, volumes = podman_listing.take("lab", 30)
    assert [c["Names"] for c in containers] == [["grid-lab-east-a"]]  # not the cluster `labs`' container
    assert [n["name"] for n in networks] == ["grid-lab-east-mgmt"]
    assert volumes == []
    calls = fake_podman.read_text().splitlines()
    assert sorted(calls) == sorted(f"{' '.join(argv)} --filter label=grid.cluster --format json"
                                   for argv, _ in podman_listing.LISTINGS)
    assert podman_listing.take("lab", 30) is None  # once: a second probe of the run lists again


def test_a_state_written_after_the_listing_started_makes_the_probe_list_again(fake_podman: Path,
                                                                               tmp_path: Path) -> None:
    """Another run that held the lock while the listing ran (it wrote the state when it ended)."""
    podman_listing.start()
    state = tmp_path / "state.json"
    state.write_text("{}")  # now: within the margin of the listing's start
    podman_listing.check(state)
    assert podman_listing.take("lab", 30) is None


@pytest.mark.parametrize("state_file", [None, Path("/nonexistent/state.json")])
def test_without_a_plain_state_file_the_listing_is_not_used(fake_podman: Path, state_file: Path | None) -> None:
    """A postgres or partitioned store (None), or no state yet: nothing says the listing is recent enough."""
    podman_listing.start()
    podman_listing.check(state_file)
    assert podman_listing.take("lab", 30) is None


def test_a_listing_never_checked_under_a_lock_is_not_used(fake_podman: Path) -> None:
    podman_listing.start()
    assert podman_listing.take("lab", 30) is None


def test_a_failing_podman_leaves_the_listing_to_the_probe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "podman").write_text("#!/bin/sh\necho 'cannot connect' >&2\nexit 125\n")
    (bin_dir / "podman").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    podman_listing.start()
    podman_listing.check(old_state(tmp_path))
    assert podman_listing.take("lab", 30) is None  # the probe's own call then reports podman's error


def test_no_podman_at_all_starts_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    podman_listing.start()
    assert podman_listing._early is None
    podman_listing.check(old_state(tmp_path))
    assert podman_listing.take("lab", 30) is None
