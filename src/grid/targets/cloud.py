"""Targets `aws` and `openstack`: the cloud makes the nodes, grid pins their SSH host keys.

A cloud instance generates its host keys at first boot, and nothing grid could trust says what they
are before it first connects. So once a region's stack is up, grid fetches the host key of every node
it has not pinned yet over SSH (retrying while the instance boots) and pins it only with the user's
consent (`grid up --trust-new-hosts`), as for existing hosts; without it, `up` fails listing the
fingerprints to check. A pinned node keeps its key for as long as its instance lives; a replaced
instance is a new host. From then on every SSH connection checks the pinned key.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from grid.engines import EngineFailed, PreviewResult, ProgressFn, RegionInput, StackEngine, StackResult
from grid.state.model import State
from grid.targets.base import EngineSetup, TargetBase, pulumi_stacks
from grid.targets.existing import TRUST_FLAG, Scanner, fingerprint, program_node_ip, scan_host_key


@dataclass(frozen=True)
class InstancePin:
    instance: str  # the cloud's instance id the key was seen on
    host_key: str


def pins_from_state(state: State) -> dict[str, InstancePin]:
    return {address: InstancePin(str(record.outputs.get("id", "")), str(record.outputs["host_key"]))
            for address, record in state.resources.items()
            if record.kind == "node" and record.outputs.get("host_key")}


class HostKeyPinningEngine:
    """A `StackEngine` around a cloud stack engine that pins the host keys of the nodes it makes."""

    def __init__(self, inner: StackEngine, *, pins: Callable[[], Mapping[str, InstancePin]],
                 trust_new_hosts: bool = False, scanner: Scanner = scan_host_key, port: int = 22,
                 boot_timeout: float = 300.0, timeout: float = 10.0,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> None:
        self.inner = inner
        self._pins = pins
        self.trust_new_hosts = trust_new_hosts
        self._scan, self._port, self._timeout = scanner, port, timeout
        self._sleep, self._clock, self._boot_timeout = sleep, clock, boot_timeout

    def _host_key(self, ip: str) -> tuple[str, str]:
        """(key, "") or ("", why not): retried until the boot timeout, since sshd starts late in a boot."""
        deadline = self._clock() + self._boot_timeout
        delay = 2.0
        while True:
            try:
                return self._scan(ip, self._port, self._timeout), ""
            except (OSError, ValueError, EOFError) as exc:
                if self._clock() + delay > deadline:
                    return "", str(exc) or type(exc).__name__
            self._sleep(delay)
            delay = min(delay * 1.5, 15.0)

    def up(self, region: str, data: RegionInput, progress: ProgressFn | None = None, *,
           refresh: bool = True, made: Any = None, allowed: Any = None) -> StackResult:
        """`made` is never called: a cloud node's host key is known once scanned, after the stack is up."""
        if allowed is not None:
            # The official providers cannot be asked to hold a step: the engine's own preview is held against
            # the plan first, and nothing runs if it would replace or delete what the plan keeps.
            from grid.plan.contract import violations

            if refused := violations(allowed, self.inner.preview(region, data, refresh=refresh).steps):
                raise EngineFailed(region, "\n".join(refused))
        result = self.inner.up(region, data, progress, refresh=refresh, allowed=allowed)
        instances: dict[str, dict[str, Any]] = dict(result.outputs.get("nodes") or {})
        declared = {str(n["address"]): n for n in data.get("nodes", [])}
        pins = self._pins()
        keys: dict[str, str] = {}
        to_scan: dict[str, str] = {}
        for address, out in instances.items():
            pin = pins.get(address)
            if pin is not None and pin.instance == str(out.get("id", "")):
                keys[address] = pin.host_key  # the same instance: the key pinned when it was new
            else:
                to_scan[address] = program_node_ip(declared.get(address, {}))
        with ThreadPoolExecutor(max_workers=max(1, min(32, len(to_scan)))) as pool:
            seen = dict(zip(to_scan, pool.map(self._host_key, to_scan.values()), strict=True))
        unreachable = {a: why for a, (_, why) in seen.items() if why}
        new = {a: key for a, (key, why) in seen.items() if not why}
        problems: list[str] = []
        if unreachable:
            problems.append("no SSH host key after the boot timeout: " + "; ".join(
                f"{a} ({to_scan[a] or 'no address'}): {why}" for a, why in sorted(unreachable.items())))
        if new and not self.trust_new_hosts:
            problems.append(f"{len(new)} new node(s) not trusted yet: " + "; ".join(
                f"{a} ({to_scan[a]}) {key.split()[0]} {fingerprint(key)}" for a, key in sorted(new.items()))
                + " — compare with the fingerprints in each instance's console output, then run `grid up` "
                f"with {TRUST_FLAG} to pin them")
        if problems:
            raise EngineFailed(region, "\n".join(problems))
        keys.update(new)
        for address in new:
            if progress is not None:
                progress(address, "pin host key", "done")
        nodes = {address: {**out, "host_key": keys[address]} for address, out in instances.items()}
        return StackResult(region, {**result.outputs, "nodes": nodes}, result.changes)

    def preview(self, region: str, data: RegionInput, *, refresh: bool) -> PreviewResult:
        return self.inner.preview(region, data, refresh=refresh)

    def destroy(self, region: str, data: RegionInput, progress: ProgressFn | None = None) -> None:
        self.inner.destroy(region, data, progress)

    def regions(self) -> list[str]:
        return self.inner.regions()


@dataclass(frozen=True)
class CloudTarget(TargetBase):
    """A cloud (grid.targets.aws, grid.targets.openstack): Pulumi makes the machines, grid pins their host keys."""

    def stacks(self, setup: EngineSetup) -> HostKeyPinningEngine:
        return HostKeyPinningEngine(pulumi_stacks(setup), pins=lambda: pins_from_state(setup.read_state()),
                                    trust_new_hosts=setup.trust_new_hosts, port=setup.cluster.spec.defaults.ssh.port)
