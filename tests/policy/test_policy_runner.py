"""Running policies: levels, findings, and every way a policy can fail becoming an error finding naming it."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

from plan_documents import DOCUMENT

from grid.policy import PolicyReport
from grid.policy.packs import load_pack
from grid.policy.runner import evaluate

HEAD = "from grid.policy import Finding, PlanView, policy\n\n"


def pack(tmp_path: Path, files: dict[str, str], name: str = "p", settings: str = "") -> Path:
    directory = tmp_path / name
    directory.mkdir(parents=True, exist_ok=True)
    for file, text in files.items():
        (directory / file).write_text(HEAD + text)
    if settings:
        (directory / "pack.yaml").write_text(settings)
    return directory


def run(*directories: Path, now: datetime | None = None) -> PolicyReport:
    return evaluate([load_pack(d) for d in directories], DOCUMENT, now=now)


def lines(report: PolicyReport) -> list[tuple[str, str, str, bool]]:
    return [(f.policy, f.level, f.message, f.blocking) for f in report.findings]


def test_mandatory_findings_block_and_advisory_ones_do_not(tmp_path: Path) -> None:
    report = run(pack(tmp_path, {"caps.py": """
@policy(name="mw-cap", level="mandatory", description="under the cap")
def cap(plan: PlanView, config):
    for region in plan.regions:
        if region.facility_mw > config["cap_mw"]:
            yield Finding(f"{region.facility_mw} MW over {config['cap_mw']}", address=region.name)

@policy(name="carbon-note", level="advisory")
def note(plan, config):
    return [f"{plan.regions[0].tco2_per_year:.0f} t"]

@policy(name="quiet", level="mandatory")
def quiet(plan, config):
    return None
"""}, settings="config: {cap_mw: 1}\n"))
    assert lines(report) == [("mw-cap", "mandatory", "1.5 MW over 1", True),
                             ("carbon-note", "advisory", "900 t", False)]
    assert report.findings[0].address == "east" and not report.passed
    assert report.packs[0].policies == ("mw-cap", "carbon-note", "quiet")
    assert PolicyReport.from_document(report.to_document()) == report


def test_the_plan_view_reads_changes_and_the_time_the_policies_run(tmp_path: Path) -> None:
    report = run(pack(tmp_path, {"v.py": """
@policy(name="view", level="advisory")
def view(plan, config):
    change = next(plan.pending())
    yield f"{plan.cluster} {change.address} {change.pool} {change.accelerator} {change.removes} {plan.today}"
"""}), now=datetime(2026, 12, 24, 10, 0))
    assert lines(report)[0][2] == "c east/train/node-0000 train h100-sxm True 2026-12-24"


def test_a_crashing_policy_is_an_error_finding_naming_it_and_the_others_still_run(tmp_path: Path) -> None:
    report = run(pack(tmp_path, {"a.py": """
@policy(name="crashes", level="mandatory")
def crashes(plan, config):
    return config["missing_threshold"]

@policy(name="wrong-type", level="advisory")
def wrong(plan, config):
    return [42]

@policy(name="fine", level="advisory")
def fine(plan, config):
    return ["ran"]
"""}))
    assert lines(report) == [
        ("crashes", "error", "failed: KeyError: 'missing_threshold'", True),
        ("wrong-type", "error", "failed: TypeError: a policy returns Finding or str values, not int", False),
        ("fine", "advisory", "ran", False)]
    assert all("Traceback" not in f.message for f in report.findings)


def test_a_file_that_does_not_load_or_holds_no_policy_is_an_error_finding(tmp_path: Path) -> None:
    report = run(pack(tmp_path, {"broken.py": "def oops(:\n", "empty.py": "X = 1\n",
                                 "raises.py": "raise RuntimeError('no config here\\nsecond line')\n"}))
    assert [(f.policy, f.level, f.blocking) for f in report.findings] == [
        ("broken", "error", True), ("empty", "error", True), ("raises", "error", True)]
    assert report.findings[0].message.startswith("broken.py: could not be loaded: SyntaxError")
    assert report.findings[1].message == "empty.py defines no policy (no function marked with @policy)"
    assert report.findings[2].message == "raises.py: could not be loaded: RuntimeError: no config here"


def test_an_endless_policy_is_stopped_at_its_time_limit(tmp_path: Path) -> None:
    started = time.monotonic()
    report = run(pack(tmp_path, {"loop.py": """
@policy(name="spins", level="mandatory")
def spins(plan, config):
    while True:
        pass

@policy(name="after", level="advisory")
def after(plan, config):
    return ["still ran"]
"""}, settings="timeout_seconds: 0.5\n"))
    assert lines(report) == [("spins", "error", "did not finish within 0.5s", True),
                             ("after", "advisory", "still ran", False)]
    assert time.monotonic() - started < 10


def test_a_policy_that_defeats_its_alarm_or_kills_its_process_is_stopped_and_the_rest_run(tmp_path: Path) -> None:
    report = run(pack(tmp_path, {"a.py": """
import os

@policy(name="stubborn", level="mandatory")
def stubborn(plan, config):
    while True:
        try:
            while True:
                pass
        except BaseException:
            pass

@policy(name="exits", level="advisory")
def exits(plan, config):
    os._exit(7)

@policy(name="prints", level="advisory")
def prints(plan, config):
    print("noise on stdout")
    return ["last"]
"""}, settings="timeout_seconds: 0.3\n"))
    assert lines(report) == [
        ("stubborn", "error", "did not finish within 0.3s (stopped)", True),
        ("exits", "error", "its process ended (exit code 7) while it ran", False),
        ("prints", "advisory", "last", False)]


def test_pack_yaml_levels_override_or_disable_a_policy(tmp_path: Path) -> None:
    report = run(pack(tmp_path, {"a.py": """
@policy(name="strict", level="mandatory")
def strict(plan, config):
    return ["strict"]

@policy(name="off", level="mandatory")
def off(plan, config):
    raise ValueError("never seen")
"""}, settings="levels: {strict: advisory, off: disabled}\n"))
    assert lines(report) == [("strict", "advisory", "strict", False)]
    assert report.passed


def test_several_packs_run_in_order_and_their_digest_changes_with_any_file(tmp_path: Path) -> None:
    first = pack(tmp_path, {"a.py": '@policy(name="a", level="advisory")\ndef a(plan, config):\n    return ["a"]\n'},
                 name="one")
    second = pack(tmp_path, {"b.py": '@policy(name="b", level="advisory")\ndef b(plan, config):\n    return ["b"]\n'},
                  name="two")
    report = run(first, second)
    assert [(f.pack, f.message) for f in report.findings] == [("one", "a"), ("two", "b")]
    (second / "pack.yaml").write_text("config: {x: 1}\n")
    assert run(first, second).digest != report.digest
    assert not (first / "__pycache__").exists()  # nothing written into the packs
