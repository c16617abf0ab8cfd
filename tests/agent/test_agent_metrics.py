"""The agent's /metrics and /healthz (grid.agent.metrics, grid.agent.http): every family populated passes
`promtool check metrics` (the real one, Debian's prometheus package), served over real HTTP on loopback."""

from __future__ import annotations

import shutil
import subprocess
import urllib.error
import urllib.request

import pytest

from grid.agent.http import serve
from grid.agent.metrics import AgentMetrics

FAMILIES = ("grid_agent_last_reconcile_timestamp_seconds", "grid_agent_reconcile_total",
            "grid_agent_reconcile_duration_seconds", "grid_agent_drift_found_total",
            "grid_agent_drift_repaired_total", "grid_agent_apply_duration_seconds", "grid_agent_nodes",
            "grid_agent_quarantined_nodes", "grid_agent_active", "grid_agent_spec_valid", "grid_agent_info")


def populated() -> AgentMetrics:
    metrics = AgentMetrics("east-1")
    for region in ("east", "west"):
        metrics.reconcile(region, "applied", 42.5)
        metrics.reconcile(region, "no-change", 3.0)
        metrics.drift(region, found=3, repaired=2)
        metrics.apply_seconds(region, 40.0)
        metrics.nodes(region, {"running": 5, "missing": 1})
        metrics.quarantined(region, 1)
        metrics.active(region, region == "east")
        metrics.commit(region, "0123abcd")
        metrics.spec_invalid(region, False)
    return metrics


def promtool_check(text: bytes) -> subprocess.CompletedProcess[bytes]:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool not found: apt-get install prometheus (scripts/setup.sh does)")
    return subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, timeout=60, check=False)


def test_every_family_is_rendered_and_passes_promtool() -> None:
    text = populated().render()
    body = text.decode()
    for family in FAMILIES:
        assert f"\n{family}" in body or body.startswith(family), family
        assert f"# HELP {family} " in body, family
    assert 'grid_agent_reconcile_total{region="east",result="applied"} 1.0' in body
    assert 'grid_agent_info{agent="east-1",commit="0123abcd",region="east"} 1.0' in body
    assert 'grid_agent_active{region="west"} 0.0' in body
    checked = promtool_check(text)
    assert checked.returncode == 0, (checked.stdout + checked.stderr).decode()
    assert checked.stdout.strip() == b"" and checked.stderr.strip() == b""  # no lint warnings either


def test_node_states_no_longer_seen_drop_to_zero_and_registries_stay_apart() -> None:
    metrics = AgentMetrics("a")
    metrics.nodes("east", {"running": 2, "missing": 1})
    metrics.nodes("east", {"running": 3})
    body = metrics.render().decode()
    assert 'grid_agent_nodes{region="east",state="missing"} 0.0' in body
    assert 'grid_agent_nodes{region="east",state="running"} 3.0' in body
    assert "grid_agent_nodes{" not in AgentMetrics("b").render().decode()  # its own registry


def get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.headers["Content-Type"], answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


def test_metrics_and_healthz_over_http() -> None:
    health: list[tuple[bool, str]] = [(True, "active for east, last reconcile applied 0123abcd")]
    server = serve(populated(), lambda: health[0], "127.0.0.1", 0)
    try:
        base = f"http://127.0.0.1:{server.port}"
        assert server.port > 0
        status, kind, body = get(f"{base}/metrics")
        assert status == 200 and kind.startswith("text/plain; version=0.0.4")
        checked = promtool_check(body.encode())
        assert checked.returncode == 0, (checked.stdout + checked.stderr).decode()
        assert get(f"{base}/healthz")[::2] == (200, "ok: active for east, last reconcile applied 0123abcd\n")
        health[0] = (False, "the state database is unreachable\nfor 90s")
        assert get(f"{base}/healthz")[::2] == (503, "unhealthy: the state database is unreachable for 90s\n")

        def broken() -> tuple[bool, str]:
            raise RuntimeError("postgres://grid:secret@db/x")

        other = serve(populated(), broken, "127.0.0.1", 0)
        try:
            status, _, text = get(f"http://127.0.0.1:{other.port}/healthz")
            assert status == 503 and "secret" not in text and "RuntimeError" in text
        finally:
            other.close()
        assert get(f"{base}/nope")[0] == 404
    finally:
        server.close()
