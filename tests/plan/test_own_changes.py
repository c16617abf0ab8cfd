"""own_changes: a host's generic "configuration inputs changed" becomes what changed in its pool's own
configuration, and the plan text lists each with its host count."""

from __future__ import annotations

from cli.views.plan import plan_lines

from grid.plan.model import HostConfigChange, Plan
from grid.plan.own_changes import GENERIC, explained, what_changed
from grid.resources import Kind, Resource, ResourceGraph


def pool_vars(role: str = "sha256:a", script: str = "sha256:s", **extra: object) -> dict[str, object]:
    return {"grid_own_roles": [{"name": "nccl-tuning", "digest": role}],
            "grid_scripts": [{"run": "setup.sh", "when": "once", "digest": script}], "grid_limits": [], **extra}


def test_what_changed_names_roles_scripts_and_the_rest() -> None:
    assert what_changed(pool_vars(), pool_vars()) == []
    assert what_changed(pool_vars(), pool_vars(role="sha256:b")) == ["role nccl-tuning changed"]
    assert what_changed(pool_vars(), pool_vars(script="sha256:t", x=1)) == [
        "script setup.sh changed", "pool configuration changed"]
    assert what_changed(None, pool_vars()) == ["role nccl-tuning added", "script setup.sh added"]
    assert what_changed(pool_vars(), None) == ["role nccl-tuning removed", "script setup.sh removed"]


def test_the_plan_says_which_role_changed_on_how_many_hosts() -> None:
    nodes = [Resource(f"east/{pool}/node-000{i}", Kind.NODE, "east", {"pool": pool, "hostname": f"h{pool}{i}"})
             for pool in ("gpu", "login") for i in range(2)]
    graph = ResourceGraph("c", tuple(nodes))
    config = tuple(HostConfigChange(n.address, "full", GENERIC) for n in nodes)
    plan = Plan("c", "local", "sha256:x", 1, "l", (), config)
    before = {"pool_east_gpu": pool_vars(), "pool_east_login": pool_vars()}
    after = {"pool_east_gpu": pool_vars(role="sha256:b"), "pool_east_login": pool_vars()}
    made = explained(plan, graph, before, after)
    assert [c.reason for c in made.config] == ["role nccl-tuning changed"] * 2 + [GENERIC] * 2
    text = [line for line, _ in plan_lines(made)]
    assert "    role nccl-tuning changed: 2 host(s)" in text
