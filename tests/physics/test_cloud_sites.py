"""A site is the user's building: needed where the target has one, optional on public clouds, where a site is a
power budget and the figures that need one stay unknown (a dash), never 0."""

from __future__ import annotations

from grid.diagnostics import Severity
from grid.physics import cluster_dot, summarize
from grid.physics.units import UNKNOWN
from grid.spec import load_spec_text
from support.specs import findings, where

HEAD = "apiVersion: grid/v1\nkind: Cluster\nmetadata: {name: t}\nspec:\n  target: TARGET\n  regions:\n"
REGION = """\
    - name: east
SITE
      fabrics:
        - {name: compute, kind: roce, cidr: 10.0.0.0/24}
      pools:
        - {name: gpu, count: 16, nodes_per_rack: 8, accelerator: {model: h100-sxm, per_node: 8}, fabrics: [compute],
           instance_types: {aws: p5.48xlarge, openstack: g1, gcp: a3-highgpu-8g, alicloud: ecs.gn8v.48xlarge}}
"""


def spec(target: str, site: str = "") -> str:
    region = REGION.replace("SITE\n", f"      site: {site}\n" if site else "")
    if target == "local":
        region = region.replace("10.0.0.0/24", "198.18.0.0/24")
    return HEAD.replace("TARGET", target) + region


def test_a_target_with_a_facility_needs_a_site() -> None:
    for target in ("local", "openstack"):
        (diag,) = findings(spec(target), "physics.site")
        assert diag.severity is Severity.ERROR
        assert diag.summary == "region 'east' has no site"
        assert diag.path == ("spec", "regions", 0)
        assert where(diag) == (7, 7)
        assert diag.hint.startswith("add `site: {power_mw: 0.3}` to region 'east'")  # 16 x 8 H100, PUE 1.3, headroom
        assert f"on the {target} target" in diag.detail


def test_a_public_cloud_needs_no_site_and_invents_no_figures() -> None:
    assert [d for d in findings(spec("aws"), "physics.") if d.severity is Severity.ERROR] == []
    loaded = load_spec_text(spec("aws"), "t.yaml")
    assert loaded.cluster is not None
    row = summarize(loaded.cluster).regions[0]
    assert row.it_mw is not None and row.it_mw > 0  # what the machines draw is known
    assert (row.facility_mw, row.power_budget_mw, row.headroom_mw, row.annual_mwh, row.tco2_per_year) == (
        None, None, None, None, None)
    assert not row.over_budget
    total = summarize(loaded.cluster).total
    assert total.power_budget_mw is None and total.tco2_per_year is None
    dot = cluster_dot(loaded.cluster, summarize(loaded.cluster))
    assert f"budget {UNKNOWN} MW" in dot and "site: the cloud's" in dot


def test_a_site_on_a_public_cloud_is_a_power_budget_but_racks_are_the_clouds() -> None:
    over = findings(spec("aws", "{power_mw: 0.1, rack_kw_max: 10}"), "physics.")
    assert [(d.severity, d.code) for d in over] == [(Severity.ERROR, "physics.power")]
    # The same site in a building of the user's own: racks and air cooling are checked too.
    local = sorted(d.code for d in findings(spec("openstack", "{power_mw: 0.1, rack_kw_max: 10}"), "physics."))
    assert local == ["physics.air-cooling", "physics.power", "physics.rack-density"]
