"""`grid import` refusals as users see them: one error line and a hint, exit 1, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.cli import invoke


@pytest.mark.parametrize(("args", "words"), [
    (["--pool", "gpu-*"], "is not PATTERN=NAME"),
    ([], "exactly one source of hosts"),
    (["--probe", "10.0.0.0/8"], "at most a /20"),
    (["--probe", "10.0.0.0/24", "--inventory", "hosts.ini"], "exactly one source of hosts"),
])
def test_bad_options_are_one_error_and_a_hint(tmp_path: Path, args: list[str], words: str) -> None:
    done = invoke("import", "--out", str(tmp_path / "c.yaml"), "--workdir", str(tmp_path / "wd"), *args)
    assert done.code == 1 and words in done.stderr and "hint:" in done.stderr, done.output
    assert not (tmp_path / "c.yaml").exists() and not (tmp_path / "wd" / "state.json").exists()


def test_an_existing_spec_is_refused_before_any_host_is_read(tmp_path: Path) -> None:
    spec = tmp_path / "c.yaml"
    spec.write_text("# mine\n")
    done = invoke("import", "--out", str(spec), "--probe", "192.0.2.0/24", "--workdir", str(tmp_path / "wd"))
    assert done.code == 1 and "never overwrites a spec" in done.stderr and "--merge" in done.stderr
    assert spec.read_text() == "# mine\n" and done.seconds < 5


def test_manage_false_is_for_existing_hosts_and_says_what_it_turns_off(tmp_path: Path) -> None:
    head = ("apiVersion: grid/v1\nkind: Cluster\nmetadata: {name: hub}\nspec:\n  target: TARGET\n"
            "  configuration: {manage: false, users: [{name: alice}]}\n  regions:\n  - name: east\n"
            "    site: {power_mw: 1}\n    fabrics: [{name: mgmt, cidr: 10.0.0.0/24}]\n"
            "    pools: [{name: train, count: 1, fabrics: [mgmt]}]\n  targets:\n    existing:\n"
            "      hosts: [{name: a, address: 10.0.0.1, region: east, pool: train}]\n")
    spec = tmp_path / "c.yaml"
    spec.write_text(head.replace("TARGET", "existing"))
    done = invoke("validate", str(spec))
    assert done.code == 0 and "users will not be applied" in done.output, done.output
    spec.write_text(head.replace("TARGET", "local"))
    done = invoke("validate", str(spec))
    assert done.code == 1 and "needs target existing" in done.output, done.output
