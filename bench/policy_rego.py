"""Policy packs on the national plan: the Rego allowlist (`opa eval`) against its Python twin, seconds per run.

The plan document of examples/national (23,135 changes, ~21 MB as JSON) is made once, untimed; then each run
evaluates (grid.policy.runner.evaluate, as `grid plan --policy` does) the shipped `accelerator-allowlist`
(Python worker), `accelerator-allowlist-rego` (OPA), and both at once (OPA runs beside the worker). With
mi300x taken off the allowed list, so each finds wuhu's inference pool and the two must agree.
Target: the Rego pack within its default time limit (10 s) on this plan.

Usage:  python bench/policy_rego.py [--runs 3]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from _lab import REPO, emit, load_average, spread
from grid import operations
from grid.plan.document import to_document
from grid.policy.packs import Pack, load_pack
from grid.policy.runner import evaluate
from grid.workspace import Workspace, open_workspace

TARGET_SECONDS = 10.0
PACKS = REPO / "examples" / "policies"


def without_mi300x(name: str) -> Pack:
    pack = load_pack(PACKS / name)
    return replace(pack, config={**pack.config, "allowed": [m for m in pack.config["allowed"] if m != "mi300x"]})


def national_document() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-policy-") as workdir:
        ws = open_workspace(REPO / "examples" / "national" / "cluster.yaml", workdir=Path(workdir))
        assert isinstance(ws, Workspace)
        return to_document(operations.plan(ws).plan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("opa") is None:
        raise SystemExit("the OPA CLI is not on PATH: make setup && source scripts/env.sh")
    load_before = load_average()
    document = national_document()
    python, rego = without_mi300x("accelerator-allowlist"), without_mi300x("accelerator-allowlist-rego")
    cases = {"python": [python], "rego": [rego], "both": [python, rego]}
    seconds: dict[str, list[float]] = {case: [] for case in cases}
    for _ in range(args.runs):
        for case, packs in cases.items():
            started = time.perf_counter()
            report = evaluate(packs, document)
            seconds[case].append(time.perf_counter() - started)
            assert {f.address for f in report.findings} == {"wuhu/infer"}, report.findings
    rego_median = spread(seconds["rego"])["median"]
    emit({"benchmark": "policy_rego", "changes": len(document["changes"]),
          "seconds": {case: spread(values) for case, values in seconds.items()},
          "target_seconds": TARGET_SECONDS, "target_met": rego_median <= TARGET_SECONDS,
          "load_average": {"before": load_before, "after": load_average()}})


if __name__ == "__main__":
    main()
