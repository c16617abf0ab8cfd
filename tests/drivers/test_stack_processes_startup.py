"""Pulumi's processes start with what they use (issue 20, +1 node): each stack operation starts a worker
(grid.drivers.pulumi_worker) and, through Pulumi, a provider process (grid.stacks.local_provider); their
imports were ~0.35 s of a +1 node's critical path. Timing lives in bench/drift.py; this guards the cause."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from grid.drivers.pulumi import TARGET_ENV

PLANNER = {"grid.plan.model", "grid.plan.diff", "grid.spec.model", "grid.state.model", "grid.render.pulumi"}

_WORKER = """
import json, sys
from grid.drivers import pulumi_worker
code = pulumi_worker.main()
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def worker_modules(target: str | None) -> tuple[int, set[str]]:
    """A spare worker grid did not need (its stdin closes empty): its exit code and what it loaded."""
    env = {k: v for k, v in os.environ.items() if k != TARGET_ENV}
    if target is not None:
        env[TARGET_ENV] = target
    done = subprocess.run([sys.executable, "-c", _WORKER], input="", capture_output=True, text=True, timeout=120,
                          env=env, check=True)
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return report["code"], set(report["modules"])


def test_the_provider_process_loads_neither_the_planner_nor_the_models() -> None:
    code = "import json, sys\nimport grid.stacks.local_provider\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    modules = set(json.loads(done.stdout))
    assert "grid.plan.contract" in modules  # it holds steps against the plan's allowance
    assert not PLANNER & modules


def test_a_worker_without_a_target_loads_only_the_engine() -> None:
    code, modules = worker_modules(None)
    assert code == 0
    assert "pulumi.automation" in modules
    assert not PLANNER & modules
    assert not any(name.startswith("grid.stacks.") for name in modules)


def test_a_warm_worker_loads_its_targets_program_before_its_request() -> None:
    code, modules = worker_modules("local")
    assert code == 0
    assert {"grid.stacks.local", "grid.stacks.local_provider"} <= modules
    # The program needs the image references only (grid.image_refs): the spec's models once came along, 0.2 s.
    assert not PLANNER & modules
    assert "pydantic" not in modules


def test_a_worker_for_an_unknown_target_still_starts() -> None:
    # The request then fails as it always did (the target's program is missing), with Pulumi's message.
    assert worker_modules("nowhere")[0] == 0
    assert worker_modules("../etc")[0] == 0
