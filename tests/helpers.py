"""Shared helpers: run the real `grid` console script, and make lab specs that never collide."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
GRID = str(Path(sys.executable).parent / "grid")


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def grid(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 900,
         input: str | None = None) -> Run:
    """Run `grid ARGS...` as a user would; never raises on a non-zero exit, but fails the test on a Python
    traceback in its output (from any thread): grid answers with diagnostics, never tracebacks."""
    full_env = {**os.environ, "CI": "true", **(env or {})}
    proc = subprocess.run([GRID, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout,
                          input=input, check=False)
    assert "Traceback (most recent call last)" not in proc.stdout + proc.stderr, \
        f"grid {' '.join(args)} printed a traceback:\n{proc.stdout}\n{proc.stderr}"
    return Run(proc.returncode, proc.stdout, proc.stderr)


@contextlib.contextmanager
def brought_up(spec: Path, *args: str) -> Iterator[None]:
    """`grid up SPEC --yes ARGS` (it must succeed), and `grid destroy` afterwards whatever happens: a test
    or fixture sharing one lab between several checks."""
    try:
        run = grid("up", str(spec), "--yes", *args)
        assert run.code == 0, run.output
        yield
    finally:
        grid("destroy", str(spec), "--yes")


def _used_subnets() -> set[ipaddress.IPv4Network]:
    """Subnets podman's networks hold, and those routed on the host (podman refuses those too)."""
    used: set[ipaddress.IPv4Network] = set()
    try:
        routes = json.loads(subprocess.run(["ip", "-j", "-4", "route", "show"], capture_output=True, text=True,
                                           check=True).stdout)
        for route in routes:
            with contextlib.suppress(ValueError):
                used.add(ipaddress.IPv4Network(route.get("dst", ""), strict=False))
    except (OSError, subprocess.CalledProcessError, json.JSONDecodeError):
        pass
    try:
        names = subprocess.run(["podman", "network", "ls", "--format", "{{.Name}}"], capture_output=True,
                               text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return used
    for name in names:
        out = subprocess.run(["podman", "network", "inspect", name, "--format",
                              "{{range .Subnets}}{{.Subnet}} {{end}}"], capture_output=True, text=True, check=False)
        for subnet in out.stdout.split():
            try:
                used.add(ipaddress.IPv4Network(subnet))
            except ValueError:
                continue
    return used


def lab_spec(directory: Path, *, source: Path = EXAMPLES / "local-lab" / "cluster.yaml",
             edit: object = None) -> tuple[Path, str]:
    """A copy of a lab spec with a unique cluster name and free /24s from 198.18.128.0/17 (tests only)."""
    data = yaml.safe_load(source.read_text())
    name = "t" + uuid.uuid4().hex[:7]
    data["metadata"]["name"] = name
    used = _used_subnets()
    candidates = (ipaddress.IPv4Network(f"198.18.{octet}.0/24") for octet in range(128, 255))
    for region in data["spec"]["regions"]:
        for fabric in region["fabrics"]:
            subnet = next(c for c in candidates if not any(c.overlaps(u) for u in used))
            fabric["cidr"] = str(subnet)
    if callable(edit):
        edit(data)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "cluster.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path, name


TEST_CLUSTER = re.compile(r"^t[0-9a-f]{7}$")  # the names lab_spec gives


def remove_leftover_test_clusters() -> list[str]:
    """Remove podman containers, networks and volumes of test clusters (never anything else)."""
    listings = {
        "containers": (["podman", "ps", "-a", "--format", "{{.Names}}|{{.Labels}}"], ["podman", "rm", "-f", "-t", "0"]),
        "networks": (["podman", "network", "ls", "--format", "{{.Name}}|{{.Labels}}"],
                     ["podman", "network", "rm", "-f"]),
        "volumes": (["podman", "volume", "ls", "--format", "{{.Name}}|{{.Labels}}"], ["podman", "volume", "rm", "-f"]),
    }
    removed: list[str] = []
    for listing, remove in listings.values():
        try:
            out = subprocess.run(listing, capture_output=True, text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            return removed
        names = [line.split("|", 1)[0] for line in out.splitlines()
                 if "|" in line and TEST_CLUSTER.match(_cluster_label(line.split("|", 1)[1]))]
        if names:
            subprocess.run([*remove, *names], capture_output=True, check=False)
            removed += names
    return removed


def _cluster_label(labels: str) -> str:
    match = re.search(r"grid\.cluster[:=]([A-Za-z0-9-]+)", labels)
    return match.group(1) if match else ""
