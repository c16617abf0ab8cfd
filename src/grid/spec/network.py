"""The network policy of a spec: where administration may come from (`access`) and per-fabric `ingress`.

Kept loose here on purpose (strings of a safe alphabet): what a CIDR, a port range or a source name
means is checked by grid.validate.network, which says at file:line:col what is wrong and suggests
near names. The alphabets below are what reaches nftables and the clouds' rules, so nothing later
has to escape them.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from grid.spec.factories import empty_list

# A CIDR, a fabric name or `pool:NAME`; grid.validate.network says which it is and whether it exists.
Source = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9.:/_-]{1,64}$")]
# One port (22) or an inclusive range ("8000-8100").
PortText = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,5}(-[0-9]{1,5})?$")]
Port = Annotated[int, Field(ge=1, le=65535)] | PortText
CidrText = Annotated[str, StringConstraints(pattern=r"^[0-9./]{1,18}$")]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False, populate_by_name=True)


class IngressRule(_Model):
    """Traffic a fabric accepts: to these ports, over this protocol, from these sources."""

    ports: list[Port] = Field(
        default_factory=empty_list, max_length=64,
        description="Ports (22) and inclusive ranges (\"8000-8100\"); empty: every port. None for icmp.")
    protocol: Literal["tcp", "udp", "icmp"] = "tcp"
    from_: list[Source] = Field(
        alias="from", min_length=1, max_length=256,
        description="Where the traffic may come from: CIDRs, fabric names (their subnets) and `pool:NAME` "
                    "(the addresses of that pool's nodes)")


class Access(_Model):
    """How grid and people reach the nodes."""

    admin_cidrs: list[CidrText] | None = Field(
        None, max_length=256,
        description="Where SSH for administration may come from (grid's own address is always allowed). "
                    "Not given: from anywhere the target allows today")


def declares_policy(access: Access, ingress: list[list[IngressRule] | None]) -> bool:
    """Whether a spec asks for filtering at all: no policy, no firewall (as before policies existed)."""
    return access.admin_cidrs is not None or any(rules is not None for rules in ingress)
