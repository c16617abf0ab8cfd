"""`grid drift` as text: drifted items first; what check mode cannot verify is listed per host while few hosts
share it, and as one line once many do (a mount's write probe is unverifiable on every host that mounts it:
12,500 lines at a hub said nothing more than one). `--json` keeps every host."""

from __future__ import annotations

from grid.cli.views.drift import drift_lines
from grid.drift import DriftReport

PROBE = "storage-client : Mount points are writable directories: write probe of /shared needs a real write"


def text(report: DriftReport) -> list[str]:
    return [line for line, _ in drift_lines(report, spec_path="cluster.yaml")]


def test_many_hosts_with_the_same_unverifiable_task_are_one_line() -> None:
    hosts = {f"east/train/node-{i:04d}": (PROBE,) for i in range(64)}
    lines = text(DriftReport("lab", (), hosts))
    assert lines == ["No drift: lab is what the state says.",
                     f"  ? 64 hosts (east/train/node-0000 … east/train/node-0063): not verifiable in check mode: "
                     f"{PROBE}"]
    assert len(DriftReport("lab", (), hosts).to_dict()["unverifiable"]) == 64


def test_a_few_hosts_are_listed_each_and_different_tasks_apart() -> None:
    other = "fabric : mtu"
    report = DriftReport("lab", (), {"a/p/node-0000": (PROBE,), "a/p/node-0001": (PROBE,), "b/q/node-0000": (other,)})
    assert text(report)[1:] == [f"  ? a/p/node-0000: not verifiable in check mode: {PROBE}",
                                f"  ? a/p/node-0001: not verifiable in check mode: {PROBE}",
                                f"  ? b/q/node-0000: not verifiable in check mode: {other}"]
