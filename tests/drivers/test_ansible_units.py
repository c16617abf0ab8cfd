"""The Ansible driver's pure parts: extra vars per scope, the gate, forks for hosts-table runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from grid.drivers.ansible import Gate, hosts_table_forks, scope_vars


def test_each_scope_names_its_hosts_and_empty_scopes_match_none() -> None:
    assert scope_vars({"b": "full", "a": "full", "c": "hosts"}) == {
        "grid_full": "a,b", "grid_cluster_wide": "!all", "grid_hosts_table": "c"}
    with pytest.raises(ValueError, match="unknown configuration scope"):
        scope_vars({"a": "everything"})


def test_a_gate_says_ready_or_why_not_and_names_its_hosts(tmp_path: Path) -> None:
    gate = Gate(tmp_path, owner=4242)
    gate.open("east-train-0000")
    gate.close("east-train-0001", "region east failed\nsecond line")
    assert gate.path("east-train-0000").read_text() == "ready\n"
    assert gate.path("east-train-0001").read_text() == "region east failed\n"
    assert not list(tmp_path.glob(".*"))  # written whole, then renamed
    assert gate.extravars(["east-train-0000", "east-train-0001"]) == {
        "grid_gated": "east-train-0000,east-train-0001", "grid_gate": str(tmp_path), "grid_gate_owner": "4242"}


@pytest.mark.parametrize(("hosts", "cpus", "forks"), [(16, 2, 4), (16, 8, 16), (200, 64, 64), (2, 8, 2), (3, 1, 3)])
def test_hosts_table_runs_fork_by_the_controllers_cores(hosts: int, cpus: int, forks: int) -> None:
    assert hosts_table_forks(hosts, cpus) == forks


def test_ansible_gets_grids_settings_and_an_allow_list_of_its_environment() -> None:
    """ansible-runner writes Ansible's environment to disk (artifacts/*/command): no secret may be in it."""
    from grid.drivers.ansible import ansible_environment

    inherited = {
        "PGPASSWORD": "s3cret", "GRID_STATE": "postgres://grid:s3cret@db/grid", "AWS_SECRET_ACCESS_KEY": "k",
        "OS_PASSWORD": "p", "PULUMI_CONFIG_PASSPHRASE": "x", "SSH_AUTH_SOCK": "/run/agent", "DATABASE_URL": "u",
        "HOME": "/root", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TERM": "xterm", "PATH": "/usr/bin",
        "ANSIBLE_FORKS": "8", "GRID_RUN": "/w|1|2"}
    runner_set = {"ANSIBLE_STDOUT_CALLBACK": "awx_display", "RUNNER_OMIT_EVENTS": "False",
                  "AWX_ISOLATED_DATA_DIR": "/w/a", "ORIGINAL_STDOUT_CALLBACK": "default"}
    ours = {"ANSIBLE_CONFIG": "/w/ansible.cfg", "PATH": "/venv/bin:/usr/bin"}
    env = ansible_environment({**inherited, **runner_set, **ours}, ours)
    assert not {"PGPASSWORD", "GRID_STATE", "AWS_SECRET_ACCESS_KEY", "OS_PASSWORD", "PULUMI_CONFIG_PASSPHRASE",
                "SSH_AUTH_SOCK", "DATABASE_URL"} & set(env)
    assert "s3cret" not in repr(env)
    assert env["PATH"] == "/venv/bin:/usr/bin" and env["ANSIBLE_CONFIG"] == "/w/ansible.cfg"
    assert {"HOME", "LANG", "LC_ALL", "TERM", "ANSIBLE_FORKS", "GRID_RUN"} <= set(env)
    assert set(runner_set) <= set(env)


def test_a_run_cut_short_configures_no_host() -> None:
    """Without the final stats (a Ctrl-C cancelled Ansible), a host that failed nothing yet is not done."""
    from grid.drivers.ansible_results import Collector

    def ran(*, finished: bool) -> Collector:
        collector = Collector(check=False, on_event=None)
        for host in ("a", "b"):
            collector.handle({"event": "runner_on_ok", "event_data": {"host": host, "task": "Accounts",
                                                                     "res": {"changed": True}}})
        if finished:
            collector.handle({"event": "playbook_on_stats", "event_data": {
                "processed": {"a": 1, "b": 1}, "changed": {"a": 1, "b": 1}, "failures": {}, "dark": {}}})
        return collector

    cut = ran(finished=False).outcomes()
    assert set(cut) == {"a", "b"} and not any(o.ok for o in cut.values())
    assert "ended before this host was done" in cut["a"].summary()
    assert all(o.ok for o in ran(finished=True).outcomes().values())


def test_only_a_site_marked_shell_only_runs_without_mitogen(tmp_path: Path) -> None:
    from grid.drivers.ansible import SHELL_ONLY_MARK, shell_only

    assert not shell_only(tmp_path)  # no site.yml (a run of a missing directory fails later, with its own words)
    (tmp_path / "site.yml").write_text(f"---\n# header\n{SHELL_ONLY_MARK}\n- name: Play\n  hosts: all\n")
    assert shell_only(tmp_path)
    (tmp_path / "site.yml").write_text(f"---\n- name: Play\n  hosts: all\n  # not {SHELL_ONLY_MARK}\n")
    assert not shell_only(tmp_path)  # the mark is a line of its own, not a mention in a comment


def test_a_runner_looks_for_mitogen_only_when_a_run_may_use_it(tmp_path: Path) -> None:
    """Finding out whether mitogen works imports Ansible (~0.12 s): `grid up` makes its runner before the apply
    starts, and a site of shell-command actions only never asks (issue 20, +1 node)."""
    import json
    import subprocess
    import sys

    code = ("import json, sys\nfrom pathlib import Path\nfrom grid.drivers.ansible import RunnerAnsible\n"
            "runner = RunnerAnsible(Path('.'))\n"
            "made = sorted(m for m in ('ansible', 'ansible_mitogen') if m in sys.modules)\n"
            "print(json.dumps({'made': made, 'strategy': runner.strategy, 'asked': 'ansible' in sys.modules}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True,
                          cwd=tmp_path)
    report = json.loads(done.stdout)
    assert report["made"] == []
    assert report["strategy"] in ("mitogen_linear", "linear")
    if report["strategy"] == "mitogen_linear":  # mitogen works here: asking imported Ansible to find out
        assert report["asked"]
