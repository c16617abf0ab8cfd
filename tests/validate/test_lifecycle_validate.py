"""pools[].health and pools[].update: the schema, and grid.validate.lifecycle's findings at file:line:col."""

from __future__ import annotations

import pytest

from grid.diagnostics import Severity
from grid.spec import load_spec_text
from grid.spec.lifecycle import allowed_nodes, parse_hours, share_text
from grid.spec.schema import cluster_json_schema
from support.specs import LOCAL_SPEC_HEAD, findings, where

SCHEDULER = "  scheduler: {kind: slurm, controller: {pool: ctl}}\n"


def spec(train_extra: str, *, scheduler: bool = True, count: int = 8) -> str:
    """A spec whose pool `train` (line 16 on) has the lines `train_extra` (indented by 8 spaces)."""
    text = LOCAL_SPEC_HEAD + f"""\
    - name: east
      site: {{power_mw: 1}}
      fabrics:
        - {{name: mgmt, cidr: 198.18.0.0/24}}
      pools:
        - {{name: ctl, count: 1, fabrics: [mgmt]}}
        - name: train
          count: {count}
          fabrics: [mgmt]
"""
    text += "".join(f"          {line}\n" for line in train_extra.splitlines())
    return text + (SCHEDULER if scheduler else "")


def test_a_full_policy_with_a_scheduler_is_valid() -> None:
    text = spec("""\
health: {on_failure: replace, max_unhealthy: 25%}
update:
  max_unavailable: 2
  drain: requeue
  drain_timeout: 600
  health_gate: quick
  window: {days: [sat, sun], hours: "22:00-06:00", time_zone: Asia/Shanghai}""")
    loaded = load_spec_text(text, "t.yaml")
    assert loaded.cluster is not None
    pool = loaded.cluster.spec.regions[0].pools[1]
    assert pool.health is not None and pool.health.max_unhealthy == "25%"
    assert pool.update is not None and pool.update.max_unavailable == 2
    assert pool.update.window is not None and pool.update.window.days == ["sat", "sun"]
    assert findings(text, "lifecycle") == []


def test_defaults_and_pools_without_a_policy() -> None:
    loaded = load_spec_text(spec("health: {}\nupdate: {}"), "t.yaml")
    assert loaded.cluster is not None
    ctl, train = loaded.cluster.spec.regions[0].pools
    assert ctl.health is None and ctl.update is None
    assert train.health is not None and (train.health.on_failure, train.health.max_unhealthy) == ("report", "10%")
    assert train.update is not None
    assert (train.update.max_unavailable, train.update.drain, train.update.health_gate) == (1, "wait", "quick")
    assert train.update.drain_timeout is None and train.update.window is None


@pytest.mark.parametrize("value", ["ten", "25 %", "true", "2.5", "-5%"])
def test_a_share_that_is_neither_a_count_nor_a_percentage_is_one_schema_finding(value: str) -> None:
    loaded = load_spec_text(spec(f"health: {{max_unhealthy: {value}}}"), "t.yaml")
    assert loaded.cluster is None
    assert len(loaded.diagnostics) == 1
    found = loaded.diagnostics.items[0]
    assert "a number of nodes (like 2) or a percentage of the pool (like 25%)" in found.summary
    assert found.source is not None and found.source.line == 16


@pytest.mark.parametrize(("extra", "key"), [
    ("health: {on_failure: heal}", "on_failure"), ("update: {drain: kill}", "drain"),
    ("update: {health_gate: full}", "health_gate"), ("update: {window: {days: [monday]}}", "days"),
    ("update: {window: {hours: 10pm-6am}}", "hours"), ("update: {max_unavailble: 1}", "max_unavailble"),
])
def test_schema_refuses_unknown_words(extra: str, key: str) -> None:
    loaded = load_spec_text(spec(extra), "t.yaml")
    assert loaded.cluster is None
    assert any(key in "/".join(map(str, d.path)) for d in loaded.diagnostics), loaded.diagnostics


@pytest.mark.parametrize(("extra", "summary", "col"), [
    ("health: {max_unhealthy: 0%}", "max_unhealthy 0% is not a percentage from 1% to 100%", 35),
    ("health: {max_unhealthy: 101%}", "max_unhealthy 101% is not a percentage from 1% to 100%", 35),
    ("health: {max_unhealthy: 0}", "max_unhealthy 0 would never let a node out of service", 35),
    ("update: {max_unavailable: 9}", "max_unavailable 9 is more than pool 'train' has (8 nodes)", 37),
    ("update: {max_unavailable: -1}", "max_unavailable -1 would never let a node out of service", 37),
])
def test_shares_out_of_range(extra: str, summary: str, col: int) -> None:
    found = findings(spec(extra), "lifecycle.share")
    assert [d.summary for d in found] == [summary]
    assert where(found[0]) == (16, col) and found[0].hint


@pytest.mark.parametrize("extra", ["health: {max_unhealthy: 100%}", "health: {max_unhealthy: 1%}",
                                   "update: {max_unavailable: 8}", "update: {max_unavailable: 1}"])
def test_shares_in_range(extra: str) -> None:
    assert findings(spec(extra), "lifecycle") == []


def test_a_pool_of_no_nodes_takes_any_count() -> None:
    assert findings(spec("update: {max_unavailable: 3}", count=0), "lifecycle") == []


@pytest.mark.parametrize(("window", "summary"), [
    ("{days: []}", "the update window has no days: it never opens"),
    ("{hours: '24:00-06:00'}", "hours '24:00-06:00' is not a time of day range"),
    ("{hours: '22:60-06:00'}", "is not a time of day range"),
    ("{hours: '22:00-24:30'}", "is not a time of day range"),
    ("{hours: '06:00-06:00'}", "start and end at the same time: the window never opens"),
    ("{time_zone: Mars/Olympus}", "time zone 'Mars/Olympus' is unknown"),
])
def test_windows_that_never_open_or_cannot_be_read(window: str, summary: str) -> None:
    found = findings(spec(f"update: {{window: {window}}}"), "lifecycle")
    assert [d.summary for d in found if summary in d.summary], [d.summary for d in found]
    assert all(d.severity is Severity.ERROR and d.hint for d in found)


@pytest.mark.parametrize(("zone", "hint"), [("asia/shanghai", "did you mean 'Asia/Shanghai'?"),
                                            ("Europe/Berln", "did you mean 'Europe/Berlin'?"),
                                            ("Nowhere", "write an IANA time zone name")])
def test_an_unknown_time_zone_suggests_the_close_one(zone: str, hint: str) -> None:
    found = findings(spec(f"update: {{window: {{time_zone: {zone}}}}}"), "lifecycle.time-zone")
    assert len(found) == 1 and hint in found[0].hint
    assert where(found[0])[0] == 16


@pytest.mark.parametrize("window", ["{hours: '00:00-24:00'}", "{hours: '22:00-06:00', days: [fri]}",
                                    "{days: [mon, tue, wed, thu, fri, sat, sun]}", "{time_zone: Etc/GMT+8}"])
def test_windows_that_open(window: str) -> None:
    assert findings(spec(f"update: {{window: {window}}}"), "lifecycle") == []


def test_replace_needs_a_target_that_makes_nodes() -> None:
    text = spec("health: {on_failure: replace}").replace(
        "target: local\n", "target: existing\n  targets:\n    existing:\n      hosts:\n"
        "        - {name: a, address: 198.18.0.2, pool: ctl, region: east}\n")
    found = findings(text, "lifecycle.replace")
    assert len(found) == 1 and "target 'existing' never makes" in found[0].summary
    assert "on_failure: quarantine" in found[0].hint
    assert findings(spec("health: {on_failure: replace}"), "lifecycle.replace") == []


def test_drain_settings_without_a_scheduler_are_warnings() -> None:
    text = spec("health: {on_failure: quarantine}\nupdate: {drain: wait, drain_timeout: 60}", scheduler=False)
    found = findings(text, "lifecycle.no-scheduler")
    assert {d.severity for d in found} == {Severity.WARNING}
    assert sorted(d.path[-1] for d in found) == ["drain", "drain_timeout", "on_failure"]
    assert findings(spec("update: {drain: requeue}", scheduler=False), "lifecycle")[0].summary.startswith(
        "drain: requeue without a scheduler")
    # Defaults say nothing the user wrote: no warning for them.
    assert findings(spec("health: {}\nupdate: {max_unavailable: 2}", scheduler=False), "lifecycle") == []


def test_the_schema_shows_the_keys() -> None:
    defs = cluster_json_schema()["$defs"]
    assert {"health", "update"} <= set(defs["Pool"]["properties"])
    assert set(defs["Health"]["properties"]) == {"on_failure", "max_unhealthy"}
    assert set(defs["Update"]["properties"]) == {"max_unavailable", "drain", "drain_timeout", "health_gate",
                                                 "window"}
    assert set(defs["UpdateWindow"]["properties"]) == {"days", "hours", "time_zone"}


@pytest.mark.parametrize(("share", "size", "allowed"), [
    ("25%", 8, 2), ("10%", 8, 1), ("100%", 8, 8), ("1%", 1000, 10), ("50%", 3, 1), (2, 8, 2), (9, 8, 8),
    ("10%", 0, 0), (1, 0, 0)])
def test_allowed_nodes(share: int | str, size: int, allowed: int) -> None:
    assert allowed_nodes(share, size) == allowed


def test_share_text_and_hours() -> None:
    assert share_text("25%", 8) == "25% (2)" and share_text(2, 8) == "2"
    assert parse_hours("22:00-06:00") == (1320, 360)
    assert parse_hours("00:00-24:00") == (0, 1440)
    assert parse_hours("23:60-01:00") is None and parse_hours("10pm") is None
