"""Prerequisite checks for `grid doctor`: what is missing on this machine and how to get it."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

SETUP_HINT = "run `make setup` (scripts/setup.sh) and `source scripts/env.sh`"


@dataclass(frozen=True)
class Finding:
    name: str
    ok: bool
    required: bool
    detail: str
    fix: str = ""

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "ok": self.ok, "required": self.required, "detail": self.detail,
                "fix": self.fix}


def _command(argv: list[str]) -> tuple[bool, str]:
    if shutil.which(argv[0]) is None:
        return False, f"{argv[0]} not found on PATH"
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"{argv[0]}: {exc}"
    text = (done.stdout or done.stderr).strip().splitlines()
    return done.returncode == 0, text[0] if text else f"exit {done.returncode}"


def _package(name: str) -> tuple[bool, str]:
    try:
        return True, f"{name} {importlib.metadata.version(name)}"
    except importlib.metadata.PackageNotFoundError:
        return False, f"python package {name} is not installed in {sys.prefix}"


def _tool(name: str, argv: list[str], required: bool, fix: str) -> Callable[[], Finding]:
    def check() -> Finding:
        ok, detail = _command(argv)
        return Finding(name, ok, required, detail, "" if ok else fix)

    return check


def _python_package(dist: str, required: bool) -> Callable[[], Finding]:
    def check() -> Finding:
        ok, detail = _package(dist)
        return Finding(f"python:{dist}", ok, required, detail, "" if ok else f"pip install '{dist}' ({SETUP_HINT})")

    return check


def _pulumi() -> Finding:
    ok, detail = _command(["pulumi", "version"])
    if ok and not detail.startswith("v3."):
        ok, detail = False, f"pulumi version printed {detail!r}; grid needs v3.x (built with the version ldflag)"
    return Finding("pulumi", ok, True, detail, "" if ok else f"{SETUP_HINT}: it builds the CLI from Go modules")


def _dynamic_provider() -> Finding:
    path = shutil.which("pulumi-resource-pulumi-python")
    return Finding("pulumi-resource-pulumi-python", path is not None, True, path or "not found on PATH",
                   "" if path else f"{SETUP_HINT}: it copies the script next to the pulumi binary")


def _containers_conf() -> Finding:
    conf = os.environ.get("CONTAINERS_CONF", "")
    ok = bool(conf) and os.path.isfile(conf)
    return Finding("podman config", ok, True, conf or "CONTAINERS_CONF is not set",
                   "" if ok else "source scripts/env.sh (it points CONTAINERS_CONF at grid's containers.conf)")


def _node_image() -> Finding:
    image = os.environ.get("GRID_NODE_IMAGE", "localhost/grid-node:latest")
    ok, _ = _command(["podman", "image", "exists", image])
    return Finding("node image", ok, True, image, "" if ok else "run images/node/build.sh (make setup does)")


CHECKS: tuple[Callable[[], Finding], ...] = (
    lambda: Finding("python", sys.version_info >= (3, 11), True, sys.version.split()[0],
                    "" if sys.version_info >= (3, 11) else "grid needs Python 3.11 or newer"),
    _pulumi,
    _dynamic_provider,
    _python_package("pulumi", True),
    _python_package("ansible-core", True),
    _python_package("ansible-runner", True),
    _python_package("mitogen", False),
    _python_package("paramiko", True),
    _python_package("psycopg", False),
    _tool("ansible-playbook", ["ansible-playbook", "--version"], True, SETUP_HINT),
    _tool("podman", ["podman", "--version"], True, "apt-get install podman runc (make setup does)"),
    _tool("runc", ["runc", "--version"], True, "apt-get install runc (make setup does)"),
    _containers_conf,
    _node_image,
    _tool("ssh", ["ssh", "-V"], True, "apt-get install openssh-client"),
    _tool("ssh-keygen", ["sh", "-c", "command -v ssh-keygen"], True, "apt-get install openssh-client"),
    _tool("graphviz", ["dot", "-V"], False, "apt-get install graphviz (for grid graph)"),
    _tool("opa", ["opa", "version"], False, f"{SETUP_HINT}: it builds the OPA CLI (for Rego policy packs)"),
    _tool("postgresql", ["/usr/lib/postgresql/15/bin/postgres", "--version"], False,
          "apt-get install postgresql (for the PostgreSQL state backend tests)"),
)


def run_doctor() -> list[Finding]:
    out = []
    for check in CHECKS:
        try:
            out.append(check())
        except Exception as exc:  # noqa: BLE001 - a broken check is a finding, not a crash
            out.append(Finding(getattr(check, "__name__", "check"), False, True, f"check failed: {exc}"))
    return out
