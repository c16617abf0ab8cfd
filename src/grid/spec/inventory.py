"""The existing-hosts inventory a spec names (`targets.existing.inventory`), read into hosts.

Read by the existing target (grid.targets.existing) for its nodes and by validation
(grid.validate.promises) first, so an inventory it cannot use is a finding at the spec's line,
never an error in the middle of a plan. Format: inventories/README.md.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from grid.spec.model import ExistingHost


@dataclass(frozen=True)
class Declared:
    host: ExistingHost
    ips: dict[str, str]  # fabric -> IP the inventory gives (grid_fabrics), besides the host's address


def resolve_inventory(path: str) -> Traversable:
    """An absolute path, or one relative to the working directory, or `inventories/...`: a file of grid's own
    inventories/ folder (shipped as the grid.inventories package)."""
    given = Path(path)
    if given.is_absolute() or given.exists():
        return given
    if given.parts[:1] == ("inventories",):
        packaged = resources.files("grid.inventories").joinpath(*given.parts[1:])
        if packaged.is_file():
            return packaged
    return given


def inventory_hosts(path: Traversable) -> list[Declared]:
    """Hosts of a YAML inventory in grid's shape (inventories/README.md), ordered by grid_index; raises
    ValueError, naming the file and the host, for an inventory that cannot be read or used."""
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read the existing-hosts inventory {path}: {exc}") from None
    found: dict[str, dict[str, Any]] = {}
    for name, host_vars in _walk(document if isinstance(document, dict) else {}):
        found.setdefault(name, {}).update(host_vars)
    hosts: list[tuple[int, int, Declared]] = []
    for order, (name, host_vars) in enumerate(found.items()):
        if "grid_region" not in host_vars or "grid_pool" not in host_vars:
            raise ValueError(f"{path}: host {name} needs grid_region and grid_pool")
        try:
            host = ExistingHost(name=name, address=str(host_vars.get("ansible_host", name)),
                                region=str(host_vars["grid_region"]), pool=str(host_vars["grid_pool"]),
                                port=int(host_vars.get("ansible_port", 22)))
            index = int(host_vars.get("grid_index", order))
        except ValidationError as exc:
            problem = exc.errors()[0]
            field = ".".join(str(part) for part in problem["loc"])
            raise ValueError(f"{path}: host {name}: {field}: {problem['msg']}") from None
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: host {name}: ansible_port and grid_index are whole numbers ({exc})") from None
        fabrics = host_vars.get("grid_fabrics")
        ips = {str(f["name"]): str(f["ip"]) for f in (fabrics if isinstance(fabrics, list) else [])
               if isinstance(f, dict) and f.get("name") and f.get("ip")}
        hosts.append((index, order, Declared(host, ips)))
    return [declared for _, _, declared in sorted(hosts, key=lambda item: (item[0], item[1]))]


def _walk(group: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for value in group.values():
        if not isinstance(value, dict):
            continue
        members = value.get("hosts")
        for host, host_vars in (members.items() if isinstance(members, dict) else ()):
            yield str(host), dict(host_vars) if isinstance(host_vars, dict) else {}
        children = value.get("children")
        yield from _walk(children if isinstance(children, dict) else {})
