"""Issue 14, honest numbers: an unknown figure stays unknown (None, `null` in JSON, a dash in text and markdown),
and every figure is rounded once, where it is printed."""

from __future__ import annotations

import io
import json

from rich.console import Console

from grid.cli.views.capacity import capacity_view
from grid.cli.views.markdown import plan_markdown
from grid.physics import compare, summarize, tco2_per_year
from grid.plan import Plan
from grid.spec import load_spec_text
from grid.spec.model import Cluster

SPEC = """
apiVersion: grid/v1
kind: Cluster
metadata: {{name: honest}}
spec:
  target: openstack
  regions:
    - name: a
      site: {{power_mw: {power}, pue: 1.2, cooling: liquid, rack_kw_max: 80{carbon}}}
      fabrics: [{{name: mgmt, cidr: 198.18.0.0/24}}]
      pools:
        - {{name: gpu, count: 2, accelerator: {{model: h100-sxm, per_node: 1}}, host_overhead_w: {host},
           fabrics: [mgmt]}}
  energy: {{utilization: 0.5}}
"""


def cluster(*, carbon: str = "", power: float = 1, host: float = 4600) -> Cluster:
    loaded = load_spec_text(SPEC.format(carbon=carbon, power=power, host=host))
    assert loaded.cluster is not None, loaded.diagnostics
    return loaded.cluster


def capacity(c: Cluster, before: Cluster | None = None) -> dict[str, object]:
    after = summarize(c)
    # the JSON round trip a saved plan makes
    return dict(json.loads(json.dumps({"summary": after.to_dict(),
                                       "change": compare(summarize(before) if before else None,
                                                         after).to_dict()})))


def text(cap: dict[str, object]) -> str:
    out = io.StringIO()
    console = Console(file=out, width=300, color_system=None)
    for item in capacity_view(cap):
        console.print(item)
    return out.getvalue()


def test_a_site_without_carbon_intensity_has_unknown_emissions_not_zero() -> None:
    c = cluster()
    assert c.spec.regions[0].site.grid_carbon_g_per_kwh is None
    summary = summarize(c)
    assert summary.regions[0].tco2_per_year is None and summary.total.tco2_per_year is None
    assert summary.regions[0].annual_mwh is not None  # energy is known: only emissions are not
    assert tco2_per_year(100.0, None, 0.5) is None


def test_an_explicit_zero_carbon_intensity_stays_zero() -> None:
    row = summarize(cluster(carbon=", grid_carbon_g_per_kwh: 0")).regions[0]
    assert row.tco2_per_year == 0


def test_unknown_is_null_in_json_and_a_dash_in_text_and_markdown() -> None:
    cap = capacity(cluster())
    summary = cap["summary"]
    assert isinstance(summary, dict)
    assert summary["regions"][0]["tco2_per_year"] is None and summary["total"]["tco2_per_year"] is None
    assert cap["change"]["total"]["figures"]["tco2_per_year"] == {"before": 0, "after": None,  # type: ignore[index]
                                                                   "delta": None}
    lines = [line for line in text(cap).splitlines() if line.startswith(("a ", "total "))]
    assert len(lines) == 2 and all(line.rstrip().endswith("\N{EN DASH}") for line in lines), lines
    plan = Plan(cluster="honest", target="openstack", spec_digest="sha256:" + "0" * 64, state_serial=0,
                state_lineage="", changes=(), capacity=cap)
    markdown = plan_markdown(plan)
    assert "**\N{EN DASH} tCO2/yr**" in markdown
    assert all(line.endswith("| \N{EN DASH} |") for line in markdown.splitlines() if line.startswith("| a |"))


def test_a_known_carbon_figure_prints_as_before() -> None:
    cap = capacity(cluster(carbon=", grid_carbon_g_per_kwh: 500"))
    assert "\N{EN DASH}" not in text(cap)


def test_json_carries_figures_as_computed_and_text_rounds_them_once() -> None:
    # The case: facility 0.02464 MW. Rounded once it prints 0.02; rounded to 3 decimals in JSON first
    # (0.025) and then to 2 in the text, it printed 0.03.
    c = cluster(host=9566.6667)  # 2 * (700 + 9,566.6667) W * 1.2 = 24,640 W
    cap = capacity(c)
    row = cap["summary"]["regions"][0]  # type: ignore[index]
    assert abs(row["facility_mw"] - 0.02464) < 1e-9 and row["facility_mw"] != round(row["facility_mw"], 3)
    out = text(cap)
    assert "0.02 (+0.02)" in out and "0.03" not in out, out
    markdown = plan_markdown(Plan(cluster="honest", target="openstack", spec_digest="sha256:" + "0" * 64,
                                  state_serial=0, state_lineage="", changes=(), capacity=cap))
    assert "Facility power **0.02 MW** (+0.02)" in markdown and "0.03" not in markdown


def test_headroom_is_rounded_once() -> None:
    # budget 5 MW, facility 0.0246 MW → headroom 4.9754: once 4.98 (rounded to 4.975 first, it printed 4.97)
    cap = capacity(cluster(power=5, host=9566.6667))
    assert abs(cap["summary"]["regions"][0]["headroom_mw"] - 4.97536) < 1e-9  # type: ignore[index]
    out = text(cap)
    assert "4.98" in out and "4.97 " not in out and "4.97\n" not in out, out


def test_a_change_that_rounds_to_nothing_shows_no_bracket() -> None:
    before = cluster(host=4600)
    after = cluster(host=4600.001)  # a milliwatt more per node: a change, but not at the printed precision
    out = text(capacity(after, before))
    assert "(+0.00)" not in out and "(-0.00)" not in out and "(+0)" not in out, out
