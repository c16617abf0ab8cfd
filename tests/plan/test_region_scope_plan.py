"""A plan limited to some regions: the scope's changes, and what it leaves to other regions' runs."""

from __future__ import annotations

from grid.plan.model import Action, HostConfigChange, Plan, ResourceChange
from grid.plan.region_scope import limit_to_regions


def _plan() -> Plan:
    return Plan(cluster="c", target="local", spec_digest="d", state_serial=1, state_lineage="l",
                changes=(ResourceChange("east/a/node-0001", "node", "east", Action.CREATE),
                         ResourceChange("west/b/node-0001", "node", "west", Action.CREATE)),
                config=(HostConfigChange("east/a/node-0000", "hosts", "the hosts table changed"),
                        HostConfigChange("west/b/node-0000", "hosts", "the hosts table changed"),
                        HostConfigChange("west/b/node-0001", "full", "new host")),
                unfinished=("west",))


def test_only_the_scope_is_applied_and_the_rest_is_pending_for_its_region() -> None:
    scoped = limit_to_regions(_plan(), ["east"])
    assert [c.address for c in scoped.plan.changes] == ["east/a/node-0001"]
    assert [h.address for h in scoped.plan.config] == ["east/a/node-0000"]
    assert scoped.plan.unfinished == ()
    # west's new node comes with west's own run; its existing host must learn east's new node
    assert scoped.pending == {"west": ("1 host learns east's new nodes (hosts table)",)}
    assert scoped.skipped == {"west": 1}
    assert not scoped.plan.errors
