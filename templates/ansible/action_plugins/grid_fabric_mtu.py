# Rendered by grid from templates/ansible/action_plugins/grid_fabric_mtu.py; grid rewrites it.
"""Every fabric of the node (grid_fabrics) has its address on an interface with the spec's MTU. One task.

What four tasks did (`ip -j addr show`, an assert per fabric, `ip link set ... mtu` where grid sets MTUs,
and in check mode a change reported instead), with one shell command on the host and one more only to set
an MTU: each task costs every host a turn of the strategy, a skipped one too. Fails, with the same words,
when no interface holds a fabric's address, or the MTU differs where grid may not set it (`manage`: false).
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from ansible.module_utils.parsing.convert_bool import boolean  # type: ignore[import-untyped]
from ansible.plugins.action import ActionBase  # type: ignore[import-untyped]


class ActionModule(ActionBase):  # type: ignore[misc]
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        fabrics = list(self._task.args.get("fabrics") or [])
        manage = boolean(self._task.args.get("manage", True), strict=False)
        if not fabrics:
            return {**result, "changed": False, "msg": "no fabrics"}
        read = self._low_level_execute_command("ip -j addr show", sudoable=False)
        try:
            links = json.loads(str(read.get("stdout", "")))
        except ValueError:
            links = None
        if read.get("rc") != 0 or not isinstance(links, list):
            return {**result, "failed": True, "msg": f"cannot read interface addresses: "
                                                     f"{str(read.get('stderr', '')).strip()}"}
        wrong: list[str] = []
        to_set: list[tuple[str, int]] = []
        for fabric in fabrics:
            link = link_of(links, str(fabric["ip"]))
            mtu = int(fabric["mtu"])
            if link is None:
                wrong.append(f"no interface holds {fabric['ip']} (fabric {fabric['name']})")
            elif int(link.get("mtu", 0)) != mtu:
                if manage:
                    to_set.append((str(link["ifname"]), mtu))
                else:
                    wrong.append(f"{link['ifname']} has MTU {link.get('mtu')}, the spec says {mtu} "
                                 f"(fabric {fabric['name']})")
        if wrong:
            return {**result, "failed": True, "msg": "; ".join(wrong)}
        said = [f"{name} has MTU {link_mtu(links, name)}, the spec says {mtu}" for name, mtu in to_set]
        if to_set and not self._task.check_mode:
            command = " && ".join(f"ip link set dev {shlex.quote(name)} mtu {mtu}" for name, mtu in to_set)
            done = self._low_level_execute_command(command, sudoable=True)
            if done.get("rc") != 0:
                return {**result, "failed": True, "msg": f"cannot set the MTU: {str(done.get('stderr', '')).strip()}"}
        return {**result, "changed": bool(to_set), "msg": "; ".join(said) if said else "fabric MTUs as the spec says"}


def link_of(links: list[Any], ip: str) -> dict[str, Any] | None:
    """The interface holding `ip` (`ip -j addr`'s entry), None when none does."""
    for link in links:
        if any(addr.get("local") == ip for addr in link.get("addr_info") or []):
            return dict(link)
    return None


def link_mtu(links: list[Any], name: str) -> Any:
    return next((link.get("mtu") for link in links if link.get("ifname") == name), "?")
