"""Update policy of every attribute: can it change in place, does it replace the resource, or is it refused."""

from __future__ import annotations

from grid.plan.model import Policy

_IN, _REPLACE, _NO = Policy.IN_PLACE, Policy.REPLACES, Policy.NOT_ALLOWED

POLICIES: dict[str, dict[str, Policy]] = {
    "node": {
        "image": _REPLACE, "fabrics": _REPLACE, "storage": _REPLACE, "accelerator": _REPLACE,
        "accelerators": _REPLACE, "cpus": _IN, "memory_gb": _IN, "roles": _IN,
        "hostname": _REPLACE, "container": _REPLACE, "pool": _REPLACE, "index": _REPLACE,
        # A container's binds are fixed when it is made; directories and their modes are configuration.
        "mounts": _REPLACE, "directories": _IN,
        # A cloud machine is bought on demand, as spot or in a reservation when it is launched: another way
        # (or another reservation) is another machine.
        "provisioning": _REPLACE, "reservation": _REPLACE,
    },
    "fabric": {
        "cidr": _REPLACE, "mtu": _REPLACE, "gateway": _REPLACE, "network": _REPLACE,
        "kind": _IN, "speed_gbps": _IN, "name": _REPLACE,
        # The private DNS zone its network resolves in (a cloud's `names: dns`): made or removed beside it.
        "dns_zone": _IN,
    },
    "volume": {
        "kind": _REPLACE, "volume": _REPLACE, "name": _REPLACE,
        "capacity_tib": _IN, "mount": _IN, "mounts": _IN, "protect": _IN, "pools": _IN,
        # Another service or deployment type is another file system; FSx changes its throughput in place.
        "backend": _REPLACE, "deployment_type": _REPLACE, "throughput_mbps_per_tib": _IN,
    },
    "link": {"between": _REPLACE, "bandwidth_gbps": _IN, "latency_ms": _IN},
}


def policy_for(kind: str, attribute: str) -> Policy:
    return POLICIES.get(kind, {}).get(attribute, _REPLACE)
