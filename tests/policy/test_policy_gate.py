"""When a plan's policies let it be applied: a blocking finding, or pack files that changed since, refuse it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from grid.operations.policy_gate import PolicyRefused, blocked_message, check_saved, refuse_if_blocked
from grid.plan import Plan
from grid.policy import PackRun, PolicyFinding, PolicyReport
from grid.policy.packs import combined_digest, pack_digest


def plan_with(report: PolicyReport | None) -> Plan:
    return Plan("c", "local", "sha256:spec", 0, "", (), policy=report)


def report_for(directory: Path, *findings: PolicyFinding) -> PolicyReport:
    run = PackRun("gate", str(directory), pack_digest(directory), ("p",))
    return PolicyReport((run,), findings, combined_digest([(run.path, run.digest)]))


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    (tmp_path / "gate").mkdir()
    (tmp_path / "gate" / "p.py").write_text("# a policy\n")
    return tmp_path / "gate"


def test_a_plan_that_passed_with_unchanged_packs_may_be_applied(pack: Path) -> None:
    advisory = PolicyFinding("gate", "p", "advisory", "just saying")
    check_saved(plan_with(report_for(pack, advisory)))
    check_saved(plan_with(None))  # made without packs
    assert blocked_message(plan_with(report_for(pack, advisory))) is None
    refuse_if_blocked(plan_with(report_for(pack, advisory)), "grid up")


def test_a_blocking_finding_refuses_up_and_apply(pack: Path) -> None:
    findings = [PolicyFinding("gate", "p", "mandatory", f"finding {n}", f"east/n{n}", blocking=True)
                for n in range(7)]
    planned = plan_with(report_for(pack, *findings))
    with pytest.raises(PolicyRefused, match=r"^grid up refused, nothing was changed: 7 mandatory policy finding\(s\): "
                                            r"gate/p: east/n0: finding 0; .*finding 4 \(and 2 more\)$"):
        refuse_if_blocked(planned, "grid up")
    with pytest.raises(PolicyRefused, match="the saved plan failed its policies"):
        check_saved(planned)


def test_a_pack_edited_or_removed_since_the_plan_refuses_apply(pack: Path) -> None:
    saved = plan_with(report_for(pack))
    (pack / "p.py").write_text("# a policy, changed\n")
    with pytest.raises(PolicyRefused, match=f"the policy files changed since the plan was made: gate \\({pack}\\)"):
        check_saved(saved)
    (pack / "p.py").unlink()
    (pack / "p.py").write_text("# a policy\n")  # back as it was
    check_saved(saved)
    for child in pack.iterdir():
        child.unlink()
    pack.rmdir()
    with pytest.raises(PolicyRefused, match="gone"):
        check_saved(saved)


def test_a_tampered_overall_digest_refuses_apply(pack: Path) -> None:
    report = report_for(pack)
    with pytest.raises(PolicyRefused, match="the packs differ"):
        check_saved(plan_with(replace(report, digest="sha256:0")))
