"""What a change between two rendered Slurm configurations costs: `scontrol reconfigure`, a slurmctld restart or
slurmd restarts, each with a one-line reason for the plan. Pure: it compares texts grid.render.slurm wrote.

The rules are slurm.conf(5), gres.conf(5) and topology.conf(5) of Slurm 22.05 (Debian bookworm's slurm-wlm):
a change takes effect on `scontrol reconfigure` unless the page says a restart is needed. Node changes
(added, removed, other CPUs/memory/GRES/address) need slurmctld and every slurmd restarted up to 24.05; from
24.11 "restarting or reconfiguring" does (slurm.conf(5), NODE CONFIGURATION). Neither restart kills running
jobs: slurmctld keeps its state in StateSaveLocation, and slurmstepd, not slurmd, holds each job's processes.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from grid.spec import slurm_keys

SlurmVersion = tuple[int, int]
BOOKWORM: SlurmVersion = (22, 5)
NODES_ON_RECONFIGURE: SlurmVersion = (24, 11)


class SlurmAction(enum.StrEnum):
    RESTART_SLURMCTLD = "restart slurmctld"
    RESTART_SLURMD = "restart slurmd"
    RECONFIGURE = "reconfigure"


IMPACT: Mapping[SlurmAction, str] = {
    SlurmAction.RECONFIGURE: "no job impact",
    SlurmAction.RESTART_SLURMCTLD: "running jobs continue; submissions and queued jobs wait while it restarts "
                                   "(seconds)",
    SlurmAction.RESTART_SLURMD: "running jobs continue (slurmstepd holds them); new steps wait while it restarts",
}

# slurm.conf(5) 22.05: "A restart of slurmctld is required for changes to this parameter to take effect."
RESTART_SLURMCTLD = frozenset({
    "AccountingStorageEnforce", "CredType", "JobContainerType", "MaxJobCount", "MaxNodeCount", "PowerPlugin",
    "ProctrackType", "SchedulerType", "SelectTypeParameters", "SlurmctldHost", "StateSaveLocation",
})
# ... "of slurmctld and the slurmd daemons" (GresTypes, SelectType, PluginDir), all daemons (AuthType,
# SwitchType), and TCP listening settings ("Changes to TCP listening settings will require a daemon restart").
RESTART_BOTH = frozenset({
    "AuthType", "GresTypes", "PluginDir", "SelectType", "SlurmctldPort", "SlurmdPort", "SwitchType",
    "TopologyPlugin", "TaskPlugin",
})
RESTART_SLURMD = frozenset({"CoreSpecPlugin", "SlurmdSpoolDir", "SlurmdUser"})
_PLUGIN_KEY = re.compile(r"(Type|Plugins?)$")  # plugins are loaded when a daemon starts: restart to be safe


@dataclass(frozen=True)
class SlurmChange:
    action: SlurmAction
    reason: str

    @property
    def impact(self) -> str:
        return IMPACT[self.action]

    def __str__(self) -> str:
        return f"{self.action}: {self.impact} ({self.reason})"


@dataclass(frozen=True)
class _Conf:
    settings: dict[str, tuple[str, ...]]
    nodes: dict[str, str]
    partitions: dict[str, str]


def _parse(text: str) -> _Conf:
    settings: dict[str, list[str]] = {}
    nodes: dict[str, str] = {}
    parts: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if "=" not in line:
            continue
        key, _, rest = line.partition("=")
        name = slurm_keys.canonical(key.strip()) or key.strip()
        if name == "NodeName":
            nodes[rest.split()[0]] = " ".join(line.split())
        elif name == "PartitionName":
            parts[rest.split()[0]] = " ".join(line.split())
        else:
            settings.setdefault(name, []).append(rest.strip())
    return _Conf({k: tuple(v) for k, v in settings.items()}, nodes, parts)


def _listed(what: str, names: Iterable[str], limit: int = 3) -> str:
    items = sorted(names)
    shown = ", ".join(items[:limit]) + (f" and {len(items) - limit} more" if len(items) > limit else "")
    return f"{what} {shown}"


def classify(old: Mapping[str, str], new: Mapping[str, str], *,
             version: SlurmVersion = BOOKWORM) -> tuple[SlurmChange, ...]:
    """The actions that bring running daemons from config files `old` to `new` ({file name: text}, as
    grid.render.slurm returns them), restarts first, each once with its reasons. () when nothing changed, or
    when `old` is empty (Slurm not configured yet: its first start is part of installing it)."""
    if not old or dict(old) == dict(new):
        return ()
    reasons: dict[SlurmAction, list[str]] = {action: [] for action in SlurmAction}
    before, after = _parse(old.get("slurm.conf", "")), _parse(new.get("slurm.conf", ""))
    added = after.nodes.keys() - before.nodes.keys()
    removed = before.nodes.keys() - after.nodes.keys()
    changed = {n for n in after.nodes.keys() & before.nodes.keys() if after.nodes[n] != before.nodes[n]}
    node_reasons = [_listed(what, names) for what, names in
                    (("nodes added:", added), ("nodes removed:", removed), ("nodes changed:", changed)) if names]
    if node_reasons:
        if version >= NODES_ON_RECONFIGURE:
            reasons[SlurmAction.RECONFIGURE].extend(node_reasons)
        else:
            text = "; ".join(node_reasons) + f" (Slurm {version[0]}.{version[1]:02d} reads nodes only at start)"
            reasons[SlurmAction.RESTART_SLURMCTLD].append(text)
            reasons[SlurmAction.RESTART_SLURMD].append(text)
    for key in sorted(before.settings.keys() | after.settings.keys()):
        if before.settings.get(key) == after.settings.get(key):
            continue
        for action in _setting_actions(key):
            reasons[action].append(f"{key} changed")
    changed_parts = {n for n in before.partitions.keys() | after.partitions.keys()
                     if before.partitions.get(n) != after.partitions.get(n)}
    if changed_parts:
        reasons[SlurmAction.RECONFIGURE].append(_listed("partitions changed:", changed_parts))
    if old.get("topology.conf") != new.get("topology.conf"):
        reasons[SlurmAction.RECONFIGURE].append("topology.conf changed")
    kinds_before, kinds_after = _gres_types(old.get("gres.conf", "")), _gres_types(new.get("gres.conf", ""))
    if kinds_before != kinds_after:  # gres.conf(5): "A restart of the slurmctld and slurmd daemons is required
        # for changes to the Type option"; counts and node lists follow the nodes' own lines above
        text = _listed("GRES types changed:", kinds_before ^ kinds_after)
        reasons[SlurmAction.RESTART_SLURMCTLD].append(text)
        reasons[SlurmAction.RESTART_SLURMD].append(text)
    if old.get("cgroup.conf") != new.get("cgroup.conf"):
        reasons[SlurmAction.RESTART_SLURMD].append("cgroup.conf changed")
    if reasons[SlurmAction.RESTART_SLURMCTLD] and reasons[SlurmAction.RESTART_SLURMD]:
        reasons[SlurmAction.RECONFIGURE] = []  # every daemon restarts and reads all of it anyway
    return tuple(SlurmChange(action, "; ".join(found)) for action, found in reasons.items() if found)


def _gres_types(text: str) -> set[str]:
    """`name:type` of every gres.conf line."""
    found: set[str] = set()
    for line in text.splitlines():
        fields = dict(part.split("=", 1) for part in line.split("#", 1)[0].split() if "=" in part)
        if "Name" in fields:
            found.add(f"{fields['Name']}:{fields.get('Type', '')}")
    return found


def _setting_actions(key: str) -> tuple[SlurmAction, ...]:
    if key in RESTART_BOTH or (_PLUGIN_KEY.search(key) and key not in RESTART_SLURMCTLD | RESTART_SLURMD):
        return SlurmAction.RESTART_SLURMCTLD, SlurmAction.RESTART_SLURMD
    if key in RESTART_SLURMCTLD:
        return (SlurmAction.RESTART_SLURMCTLD,)
    if key in RESTART_SLURMD:
        return (SlurmAction.RESTART_SLURMD,)
    return (SlurmAction.RECONFIGURE,)


def restart_keys() -> list[str]:
    """The slurm.conf keys whose lines a restart applies (node lines and the restart sets above); the role adds
    any plugin key (`...Type`, `...Plugin(s)`) to them, as `classify` does."""
    return sorted(RESTART_SLURMCTLD | RESTART_BOTH | RESTART_SLURMD | {"NodeName"})
