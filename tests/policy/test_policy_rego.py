"""Rego policies in a pack, run by the real OPA CLI: deny/warn, config, levels, a parse error at its file:line, a
policy that runs too long, OPA missing, and the pack digest covering the .rego files."""

from __future__ import annotations

import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from plan_documents import DOCUMENT

from grid.operations.policy_gate import PolicyRefused, check_saved
from grid.plan import Plan
from grid.policy import PolicyReport
from grid.policy.packs import load_pack, pack_digest
from grid.policy.rego import package_of
from grid.policy.runner import evaluate
from support.paths import EXAMPLES

pytestmark = pytest.mark.skipif(shutil.which("opa") is None,
                                reason="the OPA CLI is not on PATH (`make setup` builds it into .tools/bin)")


CAPS = """\
package caps

deny contains {"msg": sprintf("%v MW over %v", [region.facility_mw, data.config.cap_mw]), "address": region.name} if {
\tsome region in input.capacity.summary.regions
\tregion.facility_mw > data.config.cap_mw
}

warn contains sprintf("%v t", [region.tco2_per_year]) if {
\tsome region in input.capacity.summary.regions
}
"""


def pack(tmp_path: Path, files: dict[str, str], settings: str = "", name: str = "p") -> Path:
    directory = tmp_path / name
    directory.mkdir(parents=True, exist_ok=True)
    for file, text in files.items():
        (directory / file).write_text(text)
    if settings:
        (directory / "pack.yaml").write_text(settings)
    return directory


def run(*directories: Path, document: dict[str, Any] | None = None) -> PolicyReport:
    return evaluate([load_pack(d) for d in directories], document or DOCUMENT)


def lines(report: PolicyReport) -> list[tuple[str, str, str, str, bool]]:
    return [(f.policy, f.level, f.address, f.message, f.blocking) for f in report.findings]


def test_deny_is_mandatory_warn_is_advisory_and_config_is_data_config(tmp_path: Path) -> None:
    report = run(pack(tmp_path, {"caps.rego": CAPS}, settings="config: {cap_mw: 1}\n"))
    assert lines(report) == [("caps", "mandatory", "east", "1.5 MW over 1", True),
                             ("caps", "advisory", "", "900 t", False)]
    assert not report.passed and report.packs[0].policies == ("caps",)
    assert run(pack(tmp_path, {"caps.rego": CAPS}, settings="config: {cap_mw: 5}\n", name="q")).passed


def test_levels_override_a_package_and_disabled_leaves_it_out(tmp_path: Path) -> None:
    broken_at_runtime = "package boom\n\ndeny contains x if {\n\tx := 1 / 0\n}\n"
    directory = pack(tmp_path, {"caps.rego": CAPS, "boom.rego": broken_at_runtime},
                     settings="levels: {caps: advisory, boom: disabled}\nconfig: {cap_mw: 1}\n")
    report = run(directory)
    assert lines(report) == [("caps", "advisory", "east", "1.5 MW over 1", False),
                             ("caps", "advisory", "", "900 t", False)]
    assert report.passed and report.packs[0].policies == ("boom", "caps")


def test_a_parse_error_is_an_error_finding_at_its_file_and_line(tmp_path: Path) -> None:
    report = run(pack(tmp_path, {"caps.rego": CAPS, "bad.rego": "package bad\n\ndeny[msg] {\n\tmsg := 1\n}\n"}))
    assert report.findings and all(f.level == "error" and f.blocking for f in report.findings)
    first = report.findings[0]
    assert first.message.startswith("bad.rego:3: ") and "rego_parse_error" in first.message, first.message
    assert "Traceback" not in first.message and "\n" not in first.message


def test_python_and_rego_policies_of_one_pack_run_together(tmp_path: Path) -> None:
    python = ("from grid.policy import policy\n\n@policy(name=\"py-note\", level=\"advisory\")\n"
              "def note(plan, config):\n    return [plan.cluster]\n")
    report = run(pack(tmp_path, {"caps.rego": CAPS, "note.py": python}, settings="config: {cap_mw: 1}\n"))
    assert [(f.policy, f.level) for f in report.findings] == [
        ("py-note", "advisory"), ("caps", "mandatory"), ("caps", "advisory")]
    assert report.packs[0].policies == ("py-note", "caps")


def test_a_package_without_deny_or_warn_is_an_error_and_strange_values_are_named(tmp_path: Path) -> None:
    helper_only = run(pack(tmp_path, {"lib.rego": "package lib\n\nlimit := 3\n"}))
    assert lines(helper_only) == [("lib", "error", "", "the .rego files define no policy (no deny or warn rule in "
                                                      "any package)", True)]
    odd = run(pack(tmp_path, {"odd.rego": 'package odd\n\ndeny := {"a": 1}\nwarn := [{"level": 2}]\n'}, name="o"))
    assert lines(odd) == [
        ("odd", "error", "", "odd.rego: `deny` must be a set or array of strings or of objects with msg", True),
        ("odd", "advisory", "", '{"level": 2}', False)]


def test_a_policy_that_runs_past_the_time_limit_is_stopped(tmp_path: Path) -> None:
    slow = """\
package slow

many := numbers.range(1, 100000)

deny contains "never" if {
\tsome i in many
\tsome j in many
\ti + j < 0
}
"""
    started = time.monotonic()
    report = run(pack(tmp_path, {"slow.rego": slow}, settings="timeout_seconds: 1\n"))
    assert lines(report) == [("slow", "error", "", "did not finish within 1s (stopped)", True)]
    assert time.monotonic() - started < 10


def test_opa_missing_is_an_error_finding_saying_how_to_install_it(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    directory = pack(tmp_path, {"caps.rego": CAPS}, settings="config: {cap_mw: 1}\n")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    [finding] = run(directory).findings
    assert (finding.policy, finding.level, finding.blocking) == ("caps", "error", True)
    assert "`opa`" in finding.message and "make setup" in finding.message


def test_the_digest_covers_the_rego_files_so_a_changed_one_refuses_apply(tmp_path: Path) -> None:
    directory = pack(tmp_path, {"caps.rego": CAPS}, settings="config: {cap_mw: 5}\n")
    report = run(directory)
    saved = Plan("c", "local", "sha256:spec", 0, "", (), policy=report)
    check_saved(saved)
    before = pack_digest(directory)
    (directory / "caps.rego").write_text(CAPS + "# one more line\n")
    assert pack_digest(directory) != before
    with pytest.raises(PolicyRefused, match="the policy files changed since the plan was made: p "):
        check_saved(saved)


@pytest.mark.parametrize(("text", "path"), [
    ("# a comment\npackage a.b\n", ("a", "b")),
    ('package grid["allowed-accelerators"]  # note\n', ("grid", "allowed-accelerators")),
    ("package main\n", ("main",)),
    ("deny := true\n", None),
])
def test_the_package_clause_names_the_policy(text: str, path: tuple[str, ...] | None) -> None:
    assert package_of(text) == path


def test_the_shipped_rego_allowlist_says_what_its_python_twin_says() -> None:
    twin = load_pack(EXAMPLES / "policies" / "accelerator-allowlist")
    rego = load_pack(EXAMPLES / "policies" / "accelerator-allowlist-rego")
    assert rego.rego and not rego.files
    document: dict[str, Any] = {
        "changes": DOCUMENT["changes"] + [
            {"address": "west/infer/node-0000", "kind": "node", "region": "west", "action": "create",
             "after": {"pool": "infer", "accelerator": "gaudi3"}}],
        "capacity": {"summary": {"regions": [{"name": "west", "accelerators_by_model": {"gaudi3": 8}},
                                             {"name": "north", "accelerators_by_model": {"gaudi2": 16}}]}}}
    python, rego_report = (evaluate([p], document) for p in (twin, replace(rego, levels={})))
    assert sorted((f.address, f.message) for f in rego_report.findings) == sorted(
        (f.address, f.message) for f in python.findings) == [
        ("north", "16 gaudi2 accelerator(s), which is not on the allowed list"),
        ("west/infer", "pool infer uses gaudi3, which is not on the allowed list")]
