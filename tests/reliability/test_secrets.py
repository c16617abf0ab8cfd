"""No secret leaks: the cluster's private key, the Pulumi passphrase, the munge key and the state database's
password appear in no state, plan, rendered file, log, Ansible output, Pulumi state or message.

A real cluster goes through up, plan --json, plan --refresh, drift (text and JSON), check, render, the
state commands, a failing command (a wrong passphrase makes Pulumi refuse) and destroy; everything it
printed and every file under the work directory (but the secrets folder), the spec's directory and
Pulumi's home is searched for the private key's body, each 40-character slice of it, and the passphrase.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from support.cli import Run, grid
from support.lab import workdir
from support.specs import small_lab

pytestmark = pytest.mark.e2e


class Secrets:
    def __init__(self, work: Path, extra: tuple[str, ...] = ()) -> None:
        key_text = (work / "secrets" / "id_ed25519").read_text()
        public = (work / "secrets" / "id_ed25519.pub").read_text().split()[1]
        self.body = "".join(line for line in key_text.splitlines() if line and not line.startswith("-----"))
        # Slices that are also in the public key (the private key file embeds it) are not secrets.
        self.slices = {self.body[i:i + 40] for i in range(len(self.body) - 39)}
        self.slices = {s for s in self.slices if s not in public}
        self.passphrase = (work / "secrets" / "pulumi-passphrase").read_text().strip()
        self.words = [self.body, self.passphrase, *extra]
        # The munge key (a spec with a scheduler) is binary: found raw, or as base64 (what Ansible's slurp and
        # copy move) or hex, whole or any 40-character slice.
        munge = work / "secrets" / "munge.key"
        self.raw = [munge.read_bytes()] if munge.is_file() else []
        for key in self.raw:
            for text in (base64.b64encode(key).decode(), key.hex()):
                self.words.append(text)
                self.slices |= {text[i:i + 40] for i in range(0, len(text) - 39, 7)}
        assert len(self.body) > 200 and len(self.passphrase) >= 32 and len(self.slices) > 100

    def found_in(self, text: str) -> list[str]:
        flat = text.replace("\\n", "").replace("\n", "").replace("\r", "")
        found = [w[:12] + "…" for w in self.words if w and (w in text or w in flat)]
        found += [f"slice {s[:12]}…" for s in self.slices if s in flat][:3]
        return found


def _scan(roots: list[Path], secrets: Secrets, skip: Path) -> tuple[int, int, list[str]]:
    files = size = 0
    leaks = []
    for root in roots:
        for path in root.rglob("*") if root.is_dir() else []:
            if not path.is_file() or path.is_symlink() or skip in path.parents:
                continue
            data = path.read_bytes()
            text = data.decode("utf-8", errors="replace")
            files, size = files + 1, size + len(text)
            if found := secrets.found_in(text) + [f"munge key bytes ({len(k)})" for k in secrets.raw if k in data]:
                leaks.append(f"{path}: {found}")
    return files, size, leaks


def _modes(work: Path) -> list[str]:
    wrong = []
    for path, mode in ((work / "secrets", 0o700), (work / "secrets" / "id_ed25519", 0o600),
                       (work / "secrets" / "munge.key", 0o600),
                       (work / "secrets" / "pulumi-passphrase", 0o600), (work / "state.json", 0o600)):
        if path.exists() and stat.S_IMODE(path.stat().st_mode) != mode:
            wrong.append(f"{path}: {oct(stat.S_IMODE(path.stat().st_mode))}, expected {oct(mode)}")
    return wrong


def _pulumi_home() -> Path:
    return Path(os.environ.get("PULUMI_HOME", Path.home() / ".pulumi"))


def _with_slurm(data: dict[str, Any]) -> None:
    """A one-node controller pool next to the compute pool, and Slurm: the munge key is made and used."""
    region = data["spec"]["regions"][0]
    controller = {**region["pools"][0], "name": "ctl", "count": 1}
    controller.pop("accelerator", None)
    region["pools"].append(controller)
    data["spec"]["scheduler"] = {"kind": "slurm", "controller": {"pool": "ctl"}}


def test_no_secret_reaches_state_plans_files_logs_or_output(tmp_path: Path) -> None:
    spec, name = small_lab(tmp_path / "lab", edit=_with_slurm)
    work = workdir(spec, name)
    outputs: list[tuple[str, Run]] = []

    def run(*args: str, expect: tuple[int, ...] = (0,)) -> Run:
        ran = grid(*args)
        outputs.append((" ".join(args), ran))
        assert ran.code in expect, f"grid {' '.join(args)}: {ran.output[-2000:]}"
        return ran

    try:
        run("up", str(spec), "--yes")
        secrets = Secrets(work)
        assert secrets.raw, "the Slurm spec's munge key was not made"
        run("plan", str(spec), "--json")
        run("plan", str(spec), "--refresh", "--json")
        run("drift", str(spec))
        run("drift", str(spec), "--json")
        run("check", str(spec))
        run("render", str(spec), "--out", str(tmp_path / "rendered"))
        run("state", "pull", str(spec))
        run("state", "list", str(spec))
        run("state", "history", str(spec))
        run("state", "show", str(spec), "east/train/node-0000")
        # A failing command: Pulumi refuses a wrong passphrase; its error must show neither one.
        good = (work / "secrets" / "pulumi-passphrase").read_bytes()
        wrong = "0f" * 24
        (work / "secrets" / "pulumi-passphrase").write_text(wrong)
        try:
            run("drift", str(spec), expect=(1,))
        finally:
            (work / "secrets" / "pulumi-passphrase").write_bytes(good)
        secrets.words.append(wrong)
        assert _modes(work) == []
        before = _scan([work, tmp_path, _pulumi_home()], secrets, work / "secrets")
        run("destroy", str(spec), "--yes")
        after = _scan([work, tmp_path], secrets, work / "secrets")
    finally:
        grid("destroy", str(spec), "--yes")
    printed = [f"grid {args}: {found}" for args, ran in outputs if (found := secrets.found_in(ran.output))]
    print(json.dumps({"commands": len(outputs), "output_bytes": sum(len(r.output) for _, r in outputs),
                      "files_scanned": before[0] + after[0], "bytes_scanned": before[1] + after[1],
                      "secrets": 4, "key_slices": len(secrets.slices)}))
    assert printed == [], printed
    assert before[2] == [] and after[2] == [], before[2] + after[2]
    assert _modes(work) == []


def test_no_secret_reaches_the_state_database(tmp_path: Path) -> None:
    """With team state in PostgreSQL: the database (grid's state and Pulumi's stacks) and everything printed."""
    from support.postgres import PASSWORD, PG_BIN, USER, PgServer, missing_reason

    if reason := missing_reason():
        pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="grid-pg-"))  # the postgres user must reach it: not under pytest's 0700
    root.chmod(0o755)
    server = PgServer(root / "pg")
    server.start()
    spec, name = small_lab(tmp_path / "lab")
    work = workdir(spec, name)
    url = server.create_database()
    outputs: list[Run] = []
    try:
        for args in (("up", str(spec), "--yes", "--skip-check"), ("plan", str(spec), "--json"), ("drift", str(spec))):
            ran = grid(*args, "--state", url)
            outputs.append(ran)
            assert ran.code == 0, ran.output[-2000:]
        secrets = Secrets(work, extra=(PASSWORD,))
        dump = subprocess.run([str(PG_BIN / "pg_dump"), "-h", str(server.root), "-p", str(server.port), "-U", USER,
                               "--data-only", url.rsplit("/", 1)[1]], capture_output=True, text=True, check=False)
        assert dump.returncode == 0 and name in dump.stdout, dump.stderr
        assert secrets.found_in(dump.stdout) == [], "the database holds a secret"
        files = _scan([work, tmp_path / "lab"], secrets, work / "secrets")
        assert files[2] == [], files[2]
        ran = grid("destroy", str(spec), "--yes", "--state", url)
        outputs.append(ran)
        assert ran.code == 0, ran.output[-2000:]
        assert [found for r in outputs if (found := secrets.found_in(r.output))] == []
        print(json.dumps({"database_bytes_scanned": len(dump.stdout), "files_scanned": files[0],
                          "bytes_scanned": files[1]}))
    finally:
        grid("destroy", str(spec), "--yes", "--state", url)
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_the_scan_finds_a_planted_leak(tmp_path: Path) -> None:
    """The detector itself: a key body re-wrapped into a JSON string, one 40-character slice, the passphrase."""
    work = tmp_path / "work"
    (work / "secrets").mkdir(parents=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(work / "secrets" / "id_ed25519")],
                   check=True)
    (work / "secrets" / "pulumi-passphrase").write_text("ab" * 24)
    secrets = Secrets(work)
    clean = _scan([work], secrets, work / "secrets")
    assert clean[2] == [] and clean[0] == 0
    body = secrets.body
    plants = {"state.json": json.dumps({"key": "\n".join(body[i:i + 64] for i in range(0, len(body), 64))}),
              "log.txt": f"... {sorted(secrets.slices)[0]} ...", "plan.json": f'{{"p": "{secrets.passphrase}"}}'}
    for name, text in plants.items():
        (work / name).write_text(text)
    found = _scan([work], secrets, work / "secrets")[2]
    assert len(found) == 3, found


def _local_project(root: Path, task: str) -> Path:
    """A playbook on this machine (connection local): a real ansible-runner run without nodes."""
    project = root / "project"
    (project / "inventory").mkdir(parents=True)
    (project / "ansible.cfg").write_text("[defaults]\ngather_facts = false\n")
    (project / "inventory" / "hosts.yml").write_text(
        "all:\n  hosts:\n    controller:\n      ansible_connection: local\n"
        f"      ansible_python_interpreter: {sys.executable}\n")
    (project / "site.yml").write_text(f"- hosts: all\n  gather_facts: false\n  tasks:\n{task}")
    return project


def test_ansible_and_its_artifacts_see_no_secret_of_grids_environment(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A real ansible-runner run with the database password and a state URL holding one in the
    environment: Ansible does not get them, and nothing ansible-runner writes holds them."""
    from grid.drivers.ansible import RunnerAnsible

    password = "pg-" + uuid.uuid4().hex
    monkeypatch.setenv("PGPASSWORD", password)
    monkeypatch.setenv("GRID_STATE", f"postgres://grid:{password}@db.example/grid")
    seen = tmp_path / "seen-by-ansible"
    project = _local_project(tmp_path, "    - copy:\n        dest: " + str(seen) + "\n        content: >-\n"
                             "          {{ lookup('env', 'PGPASSWORD') }}|{{ lookup('env', 'GRID_STATE') }}|"
                             "{{ lookup('env', 'HOME') }}\n")
    key = tmp_path / "key"
    key.write_text("")
    work = tmp_path / "work"
    result = RunnerAnsible(work, strategy="linear", keep_artifacts=True).run(
        project, private_key=key, known_hosts=tmp_path / "known_hosts")
    assert result.ok, result.output_tail
    assert seen.read_text().split("|") == ["", "", os.environ["HOME"]]  # Ansible ran, without the secrets
    commands = list(work.glob("ansible-run-*/artifacts/*/command"))
    assert len(commands) == 1 and "ANSIBLE_CONFIG" in json.loads(commands[0].read_text())["env"]
    written = [p for p in work.rglob("*") if p.is_file()]
    assert len(written) > 3
    assert [str(p) for p in written if password in p.read_text(errors="replace")] == []


def test_a_ctrl_c_ends_ansible_and_leaves_no_run_directory(tmp_path: Path) -> None:
    """Ansible runs in a session of its own (out of the terminal's reach): an interrupt of its caller
    cancels it, and its private data directory goes with it."""
    from grid.drivers.ansible import RunnerAnsible

    marker = f"{tmp_path}|interrupt-test|{uuid.uuid4().hex}"
    project = _local_project(tmp_path, "    - pause:\n        seconds: 120\n")
    key = tmp_path / "key"
    key.write_text("")
    work = tmp_path / "work"
    timer = threading.Timer(3.0, os.kill, (os.getpid(), signal.SIGINT))
    started = time.monotonic()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRID_RUN", marker)  # the reaper's tag: finds Ansible's processes
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        timer.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                RunnerAnsible(work, strategy="linear").run(project, private_key=key,
                                                           known_hosts=tmp_path / "known_hosts")
        finally:
            timer.cancel()
            signal.signal(signal.SIGINT, previous)
    assert time.monotonic() - started < 30
    # Nothing of the run is left: only grid's launcher of ansible-playbook (grid.drivers.ansible_playbook).
    assert sorted(p.relative_to(work).as_posix() for p in work.rglob("*")) == ["ansible-bin",
                                                                               "ansible-bin/ansible-playbook"]
    deadline = time.monotonic() + 10
    while _tagged_processes(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _tagged_processes(marker) == []


def _tagged_processes(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if f"GRID_RUN={marker}".encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found
