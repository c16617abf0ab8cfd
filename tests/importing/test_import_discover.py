"""What `grid import` reads on a host: the discovery script run here, with the accelerator stand-ins on PATH
(the formats grid check parses), and hosts that cannot be read or trusted reported, the others imported."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from import_facts import HOST_KEY

from grid.drivers.ssh import KeyPair
from grid.importing.discover import discover, resolve_model
from grid.importing.hosts import HostImportOptions, import_hosts, read_hosts
from grid.importing.sources import Candidate
from grid.physics.catalog import default_catalog

STANDINS = Path(__file__).parents[2] / "templates" / "standins"


class LocalShell:
    """Runs the script on this machine, as sshd would on a host whose accelerators `declared` lists."""

    def __init__(self, declared: Path) -> None:
        self.env = {**os.environ, "PATH": f"{STANDINS}:{os.environ['PATH']}", "GRID_ACCELERATORS": str(declared),
                    "GRID_FAULTS": str(declared.with_name("no-faults"))}
        self.commands = 0

    def execute(self, address: str, command: str, *, timeout: float | None = None) -> tuple[int, str, str]:
        self.commands += 1
        done = subprocess.run(["sh", "-c", command], capture_output=True, text=True, env=self.env, timeout=timeout,
                              check=False)
        return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize(("declared", "model", "count", "tool"), [
    ("h100-sxm 2", "h100-sxm", 2, "nvidia-smi"), ("ascend-910b 8", "ascend-910b", 8, "npu-smi"),
    ("mlu590 4", "mlu590", 4, "cnmon"), ("", None, 0, ""),
])
def test_facts_and_accelerators_read_through_grid_checks_parsers(tmp_path: Path, declared: str, model: str | None,
                                                                 count: int, tool: str) -> None:
    (tmp_path / "accelerators").write_text(declared + "\n")
    shell = LocalShell(tmp_path / "accelerators")
    facts = discover(shell, "127.0.0.1")
    assert shell.commands == 1  # one session per host
    assert facts.cpus == os.cpu_count() and facts.memory_gb > 0 and facts.hostname and facts.kernel
    assert any(nic.mtu > 0 and nic.prefix > 0 for nic in facts.nics) or not facts.nics
    if model is None:
        assert facts.accelerators is None
    else:
        assert facts.accelerators is not None
        assert (facts.accelerators.model, facts.accelerators.count, facts.accelerators.tool) == (model, count, tool)
        assert not facts.accelerators.guessed


def test_device_names_map_to_catalog_ids_exactly_or_as_a_guess() -> None:
    catalog = default_catalog()
    assert resolve_model("NVIDIA A100-SXM4-80GB", "nvidia", catalog) == ("a100-sxm4-80gb", False)
    assert resolve_model("NVIDIA H100 80GB HBM3", "nvidia", catalog) == ("h100-sxm", True)
    assert resolve_model("NVIDIA ASCEND-910B", "nvidia", catalog) is None  # another vendor's name: not NVIDIA's
    assert resolve_model("910B", "ascend", catalog) == ("ascend-910b", False)


KEYS = KeyPair(Path("/nonexistent/id_ed25519"), "ssh-ed25519 AAAA admin")
OTHER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq0kd0L1Dn7QsSDyyAv9IKCvHs4xbVBq2Etk7WNF0Kf"


def test_unreachable_untrusted_and_changed_hosts_are_problems_and_the_rest_is_read(tmp_path: Path) -> None:
    (tmp_path / "accelerators").write_text("h100-sxm 2\n")
    shell = LocalShell(tmp_path / "accelerators")
    keys = {"10.0.0.1": HOST_KEY, "10.0.0.2": HOST_KEY, "10.0.0.4": HOST_KEY}

    def scanner(address: str, port: int, timeout: float) -> str:
        if address not in keys:
            raise OSError("timed out")
        return keys[address]

    candidates = [Candidate(f"h{i}", f"10.0.0.{i}") for i in (1, 2, 3, 4)]
    pins = {("10.0.0.2", 22): HOST_KEY, ("10.0.0.4", 22): OTHER_KEY}
    found, problems = read_hosts(candidates, user="root", keys=KEYS, pins=pins, trust=False, scanner=scanner,
                                 remote_factory=lambda *_: shell)
    assert [h.candidate.name for h in found] == ["h2"]
    assert len(problems) == 3
    assert problems[0].startswith("h1 (10.0.0.1:22): not trusted yet") and "--trust-new-hosts" in problems[0]
    assert problems[1] == "h3 (10.0.0.3:22): unreachable: timed out"
    assert "HOST KEY CHANGED" in problems[2]
    trusted, _ = read_hosts(candidates, user="root", keys=KEYS, pins=pins, trust=True, scanner=scanner,
                            remote_factory=lambda *_: shell)
    assert [h.candidate.name for h in trusted] == ["h1", "h2"]  # consent never overrides a changed key


def test_import_hosts_needs_the_clusters_key_and_one_source(tmp_path: Path) -> None:
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("[gpu]\nnode1 ansible_host=10.0.0.1\n")
    with pytest.raises(Exception, match="exactly one source"):
        import_hosts(HostImportOptions(out=tmp_path / "c.yaml", workdir=tmp_path / "wd"))
    with pytest.raises(Exception, match="logs in with the cluster's SSH key") as missing:
        import_hosts(HostImportOptions(inventory=inventory, out=tmp_path / "c.yaml", workdir=tmp_path / "wd"))
    assert "GRID_SSH_KEY" in getattr(missing.value, "hint", "")
