"""`configuration.names` left out: dns where the target runs a name service (the lab), hosts_file elsewhere; a cluster
that switches (by its spec or by the default) is told so by the plan, and leaving dns removes the name service."""

from __future__ import annotations

import pytest

from grid.plan import make_plan
from grid.plan.digests import host_input_digests
from grid.render.ansible import render_ansible
from grid.render.leftovers import Leftovers, leftovers_of
from grid.render.names import names_mode, uses_dns
from grid.resources import expand
from grid.spec import spec_digest
from grid.spec.model import Cluster
from grid.state.model import State
from grid.validate.target import name_service
from render.test_names import KEY, _applied, lab


def _applied_as(spec: Cluster) -> State:
    """The state after `grid up` of `spec`: hosts configured, the spec recorded as applied."""
    return _applied(spec).model_copy(update={"applied_spec": spec.model_dump(mode="json")})


def _plan_reasons(state: State, spec: Cluster) -> set[tuple[str, str]]:
    graph = expand(spec, state.allocations())
    plan = make_plan(graph, state, target=spec.spec.target, spec_digest=spec_digest(spec),
                     host_digests=host_input_digests(spec, graph, KEY))
    return {(h.scope, h.reason) for h in plan.config}


def test_the_lab_resolves_by_dns_unless_the_spec_asks_for_the_hosts_file() -> None:
    assert names_mode(lab(names=None)) == "dns"
    assert names_mode(lab(names="hosts_file")) == "hosts_file"
    files = render_ansible(lab(names=None), expand(lab(names=None)), admin_public_key=KEY)
    assert "grid_names: dns" in files["inventory/group_vars/all.yml"]


def test_a_lab_with_slurm_keeps_the_hosts_file_unless_the_spec_asks_for_dns() -> None:
    from grid.render.leftovers import _had_dns
    from support.paths import EXAMPLES
    from support.specs import cluster_from

    slurm = cluster_from(EXAMPLES / "slurm" / "cluster.yaml")
    assert slurm.spec.target == "local" and names_mode(slurm) == "hosts_file"
    asked = cluster_from(EXAMPLES / "slurm" / "cluster.yaml",
                         lambda d: d["spec"].setdefault("configuration", {}).update(names="dns"))
    assert names_mode(asked) == "dns"
    assert not _had_dns(slurm.model_dump(mode="json")) and _had_dns(asked.model_dump(mode="json"))


def test_existing_hosts_keep_the_hosts_file_unless_the_spec_asks_for_dns() -> None:
    from grid.render.leftovers import _had_dns

    spec = lab(names=None, target="existing")
    assert names_mode(spec) == "hosts_file" and not uses_dns(spec)
    assert not list(name_service(spec)) and not _had_dns(spec.model_dump(mode="json"))
    asked = lab(names="dns", target="existing")
    assert names_mode(asked) == "dns" and not list(name_service(asked)) and _had_dns(asked.model_dump(mode="json"))


def test_dns_on_hosts_grid_does_not_configure_is_refused_at_the_key() -> None:
    unmanaged = lab(names="dns", target="existing").model_dump(mode="json")
    unmanaged["spec"]["configuration"]["manage"] = False
    found = list(name_service(Cluster.model_validate(unmanaged)))
    assert [(d.code, d.path) for d in found] == [("target.names", ("spec", "configuration", "names"))]
    assert "manage" in found[0].summary and "hosts_file" in found[0].hint


@pytest.mark.parametrize(("before", "after", "switch"), [
    ("hosts_file", None, "hosts_file -> dns"),  # a lab cluster made before the default changed
    (None, "hosts_file", "dns -> hosts_file"),
    ("dns", "hosts_file", "dns -> hosts_file"),
])
def test_a_switch_of_name_resolution_is_said_for_every_host_it_touches(before: str | None, after: str | None,
                                                                        switch: str) -> None:
    state = _applied_as(lab(names=before))
    reasons = _plan_reasons(state, lab(names=after))
    assert len({h for h in state.hosts}) == 4
    assert reasons and all(reason.endswith(f"; name resolution: {switch}") for _, reason in reasons), reasons


def test_no_switch_no_word_of_it_and_an_unchanged_cluster_plans_nothing() -> None:
    state = _applied_as(lab(names=None))
    assert _plan_reasons(state, lab(names="dns")) == set()  # the default said out loud is the same cluster
    assert _plan_reasons(state, lab(names=None)) == set()


def test_leaving_dns_removes_the_name_service_once_and_only_then() -> None:
    dns, hosts_file = _applied_as(lab(names=None)), _applied_as(lab(names="hosts_file"))
    assert leftovers_of(dns) == Leftovers(names=True)
    assert leftovers_of(hosts_file) == Leftovers()
    spec = lab(names="hosts_file")
    site = render_ansible(spec, expand(spec), admin_public_key=KEY, leftovers=leftovers_of(dns))["site.yml"]
    assert site.count("tasks_from: names_removed") == 2  # the full and cluster-wide plays, after the hosts table
    assert "tasks_from: names\n" not in site
    again = render_ansible(spec, expand(spec), admin_public_key=KEY, leftovers=leftovers_of(hosts_file))
    assert "names_removed" not in again["site.yml"]  # a cluster that stays on the hosts file pays nothing
    back = render_ansible(lab(names=None), expand(lab(names=None)), admin_public_key=KEY,
                          leftovers=leftovers_of(dns))["site.yml"]
    assert "names_removed" not in back


def test_an_unfinished_run_may_have_left_a_name_service() -> None:
    state = _applied_as(lab(names="hosts_file"))
    failed = {a: h.model_copy(update={"status": "failed"}) for a, h in state.hosts.items()}
    assert leftovers_of(state.model_copy(update={"hosts": failed})).names
