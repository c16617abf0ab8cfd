"""Run a rendered Ansible directory (grid.render.ansible) with ansible-runner; typed per-host results.

Security: the private key reaches Ansible only as a path (ANSIBLE_PRIVATE_KEY_FILE), never as content;
host keys are checked against grid's pinned known_hosts (ansible-runner would turn checking off by
default: it is forced back on). Runner's private data dir is a temp dir under the work dir, removed
after each run, and named after grid's process so that the next run removes it if grid was killed
(grid.apply.reaper). ansible-runner writes Ansible's whole environment into it (artifacts/*/command): that
environment is grid's settings plus an allow-list of grid's own (ansible_environment), so no database
password, state URL or cloud credential in grid's environment reaches Ansible or the disk.

Interrupts: Runner runs in a helper thread with a cancel callback, so ansible-runner installs no signal
handlers of its own (it would swallow grid's Ctrl-C and SIGTERM for good). Ansible lives in a session of
its own, out of reach of the terminal's Ctrl-C: a run ends when its caller is interrupted, and every run
ends at `cancel_runs()` (the CLI calls it on Ctrl-C), within CANCEL_POLL_SECONDS.

Speed: the mitogen strategy (`mitogen_linear`) when the installed mitogen accepts this ansible-core,
else `linear` with the rendered 16 forks + pipelining; `linear` too when site.yml says every task is a shell
command (shell_only): mitogen speeds up Python modules only, and its bootstrap of each host costs more. A run
that only rewrites the hosts table (one task per host) uses `linear` with forks by the controller's cores
(hosts_table_forks): there, mitogen's bootstrap of each connection costs more than it saves. The strategy
plugin path is machine-specific, so it is set here at run time, never in rendered files.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from grid.apply.reaper import RUN_ENV, end_processes_with, owned_prefix
from grid.drivers.ansible_playbook import launcher_dir
from grid.drivers.ansible_results import Collector, EventCallback, PlaybookResult


class AnsibleRunner(Protocol):
    def run(self, project_dir: Path, *, private_key: Path | Sequence[Path], known_hosts: Path,
            limit: Sequence[str] | None = None, tags: Sequence[str] | None = None, check: bool = False,
            inventory: Path | None = None, on_event: EventCallback | None = None,
            scopes: Mapping[str, str] | None = None, gate: Gate | None = None) -> PlaybookResult:
        """Run project_dir/site.yml. private_key: the key to connect with, or keys to offer in turn (a rotation
        of the admin key under way: hosts rotated and not yet rotated both let grid in);
        limit: inventory hostnames (an empty list runs nothing);
        tags: e.g. ["cluster-wide"]; check: --check --diff (drift); scopes: {hostname: "full" |
        "cluster-wide" | "hosts"}, what each host runs (site.yml has one play per scope); None: all full;
        gate: the limit's hosts first wait until `gate.path(hostname)` exists and says `ready`."""
        ...


@dataclass(frozen=True)
class Gate:
    """Where grid tells a run started early that a host's node is made (site.yml's first play).

    `open(hostname)` writes `ready`, `close(hostname, why)` anything else; the run ends a host whose
    gate is closed, and every host if process `owner` ends first.
    """

    directory: Path
    owner: int

    def path(self, hostname: str) -> Path:
        return self.directory / hostname

    def open(self, hostname: str) -> None:
        self._write(hostname, "ready")

    def close(self, hostname: str, why: str) -> None:
        self._write(hostname, why.splitlines()[0] if why.strip() else "failed")

    def _write(self, hostname: str, text: str) -> None:
        temp = self.directory / f".{hostname}.tmp"
        temp.write_text(text + "\n")
        os.replace(temp, self.path(hostname))  # the waiting run never reads half a file

    def extravars(self, hostnames: Sequence[str]) -> dict[str, str]:
        return {"grid_gated": ",".join(hostnames) or "!all", "grid_gate": str(self.directory.absolute()),
                "grid_gate_owner": str(self.owner)}


# Runs start on several threads at once (the hosts table, each new node's configuration). Python hands a thread
# that imports a module another thread is still importing (through an import cycle) the half-made module.
_IMPORT_LOCK = threading.Lock()


def mitogen_strategy_dir() -> Path | None:
    """The mitogen strategy plugin directory, if mitogen is installed and accepts this ansible-core."""
    spec = importlib.util.find_spec("ansible_mitogen")
    if spec is None or not spec.submodule_search_locations:
        return None
    strategy = Path(next(iter(spec.submodule_search_locations))) / "plugins" / "strategy"
    if not (strategy / "mitogen_linear.py").is_file():
        return None
    try:  # importing the loaders imports ansible and raises on a release mitogen refuses
        loaders = importlib.import_module("ansible_mitogen.loaders")
        ansible_version = str(importlib.import_module("ansible.release").__version__)
    except Exception:  # noqa: BLE001 - any import failure means: run without mitogen
        return None
    version = tuple(int(p) for p in ansible_version.split(".")[:2] if p.isdigit())
    newest = getattr(loaders, "ANSIBLE_VERSION_MAX", None)  # older mitogen releases pin a maximum
    if newest is not None and version[:2] > tuple(newest)[:2]:
        return None
    return strategy


class RunnerAnsible:
    """AnsibleRunner on ansible-runner (real Ansible, real SSH).

    strategy: None picks mitogen_linear when mitogen works here (falling back to linear for good if
    mitogen refuses at run time), else linear; or name one ("linear", "mitogen_linear", "free").
    """

    def __init__(self, work_dir: Path, *, strategy: str | None = None, timeout: int | None = None,
                 keep_artifacts: bool = False) -> None:
        self.work_dir = work_dir
        self.timeout = timeout
        self.keep_artifacts = keep_artifacts
        self._asked = strategy  # None: mitogen_linear when mitogen works here, else linear
        self._probed: tuple[Path | None, str] | None = None
        if strategy is not None and strategy.startswith("mitogen") and self._strategy_dir is None:
            raise ValueError(f"strategy {strategy} asked for, but mitogen does not work here")

    def _probe(self) -> tuple[Path | None, str]:
        """(mitogen's strategy directory, the strategy), found on first use: finding out imports Ansible and
        mitogen (~0.12 s), which a run of shell-command actions only (shell_only) never needs."""
        if self._probed is None:
            directory = mitogen_strategy_dir() if self._asked in (None, "mitogen_linear") else None
            self._probed = (directory, self._asked or ("mitogen_linear" if directory else "linear"))
        return self._probed

    @property
    def _strategy_dir(self) -> Path | None:
        return self._probe()[0]

    @property
    def strategy(self) -> str:
        return self._probe()[1]

    def envvars(self, project_dir: Path, private_key: Path | Sequence[Path], known_hosts: Path,
                strategy: str | None = None) -> dict[str, str]:
        strategy = strategy or self.strategy
        keys = [private_key] if isinstance(private_key, Path) else list(private_key)
        env = {
            "ANSIBLE_CONFIG": str(project_dir / "ansible.cfg"),
            "ANSIBLE_HOST_KEY_CHECKING": "True",  # ansible-runner would default it to False
            "ANSIBLE_SSH_COMMON_ARGS": (
                f"-o UserKnownHostsFile={known_hosts.resolve()} "
                "-o StrictHostKeyChecking=yes -o IdentitiesOnly=yes -o BatchMode=yes"
                + "".join(f" -o IdentityFile={key.resolve()}" for key in keys[1:])),
            "ANSIBLE_PRIVATE_KEY_FILE": str(keys[0].resolve()),
            "ANSIBLE_STRATEGY": strategy,
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "PATH": _search_path(launcher_dir(self.work_dir / "ansible-bin")),
        }
        if self._strategy_dir is not None and strategy.startswith("mitogen"):
            env["ANSIBLE_STRATEGY_PLUGINS"] = str(self._strategy_dir)
        return env

    def run(self, project_dir: Path, *, private_key: Path | Sequence[Path], known_hosts: Path,
            limit: Sequence[str] | None = None, tags: Sequence[str] | None = None, check: bool = False,
            inventory: Path | None = None, on_event: EventCallback | None = None,
            scopes: Mapping[str, str] | None = None, gate: Gate | None = None) -> PlaybookResult:
        if limit is not None and not limit:
            return PlaybookResult(ok=True, hosts={}, rc=0, strategy=self.strategy)  # nothing to do
        project_dir = project_dir.resolve()
        inventory = (inventory or project_dir / "inventory" / "hosts.yml").resolve()
        options: dict[str, Any] = {
            "private_data_dir": "", "project_dir": str(project_dir), "playbook": "site.yml",
            "inventory": str(inventory), "limit": ",".join(limit) if limit else None,
            "tags": ",".join(tags) if tags else None, "cmdline": "--check --diff" if check else None,
            "quiet": True, "suppress_env_files": True, "rotate_artifacts": 1, "timeout": self.timeout}
        # Where the cluster's secrets are on this machine: the slurm role copies the munge key from there (never
        # rendered, never in the inventory).
        options["extravars"] = {"grid_secrets_dir": str((self.work_dir / "secrets").resolve())}
        if scopes is not None:
            options["extravars"].update(scope_vars(scopes))
        if gate is not None:
            options["extravars"] = {**options.get("extravars", {}), **gate.extravars(list(limit or []))}
        if scopes and set(scopes.values()) == {"hosts"} and not check and gate is None:
            # One small task per host: mitogen's bootstrap of every connection costs more than it saves.
            options["forks"] = hosts_table_forks(len(scopes))
            strategy = "linear"
        elif self._asked is None and shell_only(project_dir):
            strategy = "linear"  # no Python module to speed up: mitogen's bootstrap would be all it adds
        else:
            strategy = self.strategy
        result = self._run_once(options, project_dir, private_key, known_hosts, check, on_event, strategy)
        if (self._asked is None and strategy != "linear" and not result.ok and not result.hosts
                and "mitogen" in result.output_tail.lower() and self._strategy_dir is not None):
            self._probed = (None, "linear")  # mitogen refused at run time: for good
            result = self._run_once(options, project_dir, private_key, known_hosts, check, on_event, "linear")
        return result

    def _run_once(self, options: dict[str, Any], project_dir: Path, private_key: Path | Sequence[Path],
                  known_hosts: Path,
                  check: bool, on_event: EventCallback | None, strategy: str) -> PlaybookResult:
        with _IMPORT_LOCK:  # the first import, whole, before a second run's thread can see a half-made module
            from ansible_runner.interface import init_runner

        collector = Collector(check=check, on_event=on_event)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        private = Path(tempfile.mkdtemp(prefix=owned_prefix("ansible-run"), dir=self.work_dir))
        os.chmod(private, 0o700)
        cancel = threading.Event()
        # Marks every process of this run, those in sessions of their own too (ended at a cancel).
        envvars = {**self.envvars(project_dir, private_key, known_hosts, strategy), RUN_MARK: str(private)}
        try:
            runner = init_runner(**{
                **options, "private_data_dir": str(private), "event_handler": collector.handle,
                "cancel_callback": lambda: cancel.is_set() or _CANCEL_ALL.is_set(), "envvars": envvars})
            runner.config.env = ansible_environment(runner.config.env, envvars)
            runner.config.pexpect_timeout = CANCEL_POLL_SECONDS
            _run_cancellable(runner, cancel, str(private))
            rc = int(runner.rc if runner.rc is not None else 1)
            tail = ""
            if rc != 0:
                stdout = Path(runner.config.artifact_dir) / "stdout"
                tail = _tail(stdout.read_text(errors="replace") if stdout.is_file() else "")
        finally:
            if not self.keep_artifacts:
                shutil.rmtree(private, ignore_errors=True)
        hosts = collector.outcomes()
        ok = rc == 0 and all(h.ok for h in hosts.values())
        return PlaybookResult(ok=ok, hosts=hosts, rc=rc, output_tail=tail, strategy=strategy)


CANCEL_POLL_SECONDS = 0.5
"""How often ansible-runner asks whether to cancel: the delay from a Ctrl-C to Ansible's end."""

_CANCEL_ALL = threading.Event()


def cancel_runs() -> None:
    """End every Ansible run of this process, now and from now on (the process is being interrupted);
    safe in a signal handler."""
    _CANCEL_ALL.set()

RUN_MARK = "GRID_ANSIBLE_RUN"
# The crash-test seam (grid.killpoints) and the test harness's marker: a test must see every process of a run.
TEST_SEAM = ("GRID_KILL_AT", "GRID_PAUSE_AT", "GRID_KILL_GROUP", "GRID_TEST_RUN_MARKER")
INHERITED = frozenset({"PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TERM", "TMPDIR", RUN_ENV,
                       *TEST_SEAM})
INHERITED_PREFIXES = ("LC_", "ANSIBLE_")
RUNNER_SET = frozenset({"ORIGINAL_STDOUT_CALLBACK", "AD_HOC_COMMAND_ID"})
RUNNER_SET_PREFIXES = ("ANSIBLE_", "RUNNER_", "AWX_")


def ansible_environment(env: Mapping[str, str], ours: Mapping[str, str]) -> dict[str, str]:
    """The environment Ansible runs with, out of what ansible-runner made (grid's environment + `ours` +
    its own settings): `ours`, ansible-runner's settings, and of grid's environment only what Ansible
    needs — an allow-list: locale, home, PATH, the user's ANSIBLE_* settings and grid's run tag (so the
    reaper finds Ansible if grid is killed). Ansible reaches nodes over SSH with grid's key file: it needs
    no database password, no state URL, no agent socket and no cloud credential."""
    return {name: value for name, value in env.items()
            if name in ours or name in INHERITED or name in RUNNER_SET
            or name.startswith(INHERITED_PREFIXES + RUNNER_SET_PREFIXES)}


def _run_cancellable(runner: Any, cancel: threading.Event, mark: str) -> None:
    """runner.run() in a helper thread; if the caller is interrupted (Ctrl-C) meanwhile, or cancel_runs()
    is called, Ansible is cancelled before the interrupt goes on. ansible-runner then kills Ansible's
    process group, but Ansible's task workers run in sessions of their own: they go by RUN_MARK."""
    failed: list[BaseException] = []

    def run() -> None:
        try:
            runner.run()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            failed.append(exc)
        finally:
            if cancel.is_set() or _CANCEL_ALL.is_set():
                end_processes_with(RUN_MARK, mark)

    worker = threading.Thread(target=run, name="ansible-runner", daemon=True)
    worker.start()
    try:
        worker.join()
    except BaseException:
        cancel.set()
        worker.join(timeout=10 * CANCEL_POLL_SECONDS + 5)
        end_processes_with(RUN_MARK, mark)
        raise
    if failed:
        raise failed[0]


SHELL_ONLY_MARK = "# grid-strategy: linear"
"""site.yml's line (templates/ansible/site.yml.j2) when every task it plays runs shell commands on the hosts."""


def shell_only(project_dir: Path) -> bool:
    """Whether the rendered site.yml says all its tasks are grid's shell-command actions (no Python module).
    mitogen then only adds its bootstrap of each host (~1 s of a 1/4-CPU lab node at the first task, and
    controller CPU for each): Ansible's linear strategy over SSH with ControlPersist is faster (docs in the
    template). Read from the head of the file, where the template puts it; a missing file says no."""
    try:
        with (project_dir / "site.yml").open(encoding="utf-8") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    return any(line.strip() == SHELL_ONLY_MARK for line in head.splitlines())


def hosts_table_forks(hosts: int, cpus: int | None = None) -> int:
    """Forks for a hosts-table run: twice the controller's cores (each fork mostly waits on its SSH
    session), at least 4, at most 64. Such a run goes alongside new nodes' infrastructure and
    configuration; more forks than the controller can drive only take CPU from them (measured on 2
    cores: +1 node with 16 others, 16 forks 7.0-7.5 s, 4 forks 6.6 s)."""
    return max(1, min(hosts, 64, max(4, 2 * (cpus or os.cpu_count() or 1))))


SCOPE_VARS = {"full": "grid_full", "cluster-wide": "grid_cluster_wide", "hosts": "grid_hosts_table"}
"""The extra var holding each scope's hosts: the `hosts:` pattern of that scope's play in site.yml."""


def scope_vars(scopes: Mapping[str, str]) -> dict[str, str]:
    """Extra vars naming each play's hosts ('!all' matches none); unknown scopes raise ValueError."""
    patterns: dict[str, list[str]] = {name: [] for name in SCOPE_VARS.values()}
    for hostname, scope in sorted(scopes.items()):
        if scope not in SCOPE_VARS:
            raise ValueError(f"unknown configuration scope {scope!r} for {hostname}")
        patterns[SCOPE_VARS[scope]].append(hostname)
    return {name: ",".join(hosts) or "!all" for name, hosts in patterns.items()}


def _search_path(launchers: Path | None = None) -> str:
    """PATH with the directory of the ansible-playbook beside this interpreter (a venv not on PATH) first, and
    before it grid's launcher of that command (grid.drivers.ansible_playbook), when there is one."""
    path = os.environ.get("PATH", os.defpath)
    beside = Path(sys.executable).parent
    if (beside / "ansible-playbook").is_file():
        return os.pathsep.join([*([str(launchers.resolve())] if launchers else []), str(beside), path])
    if shutil.which("ansible-playbook") is None:
        raise FileNotFoundError("ansible-playbook not found; install ansible-core")
    return path


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])
