"""The pieces crash recovery stands on, one at a time: the kill seam, the reaper of a dead run's processes,
the provider's engine watchdog, stale Pulumi locks, the interrupted-region mark, real resource limits."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grid.apply import reaper
from grid.apply.engine import _mark_interrupted, forget_region
from grid.drivers.pulumi_locks import stale_lock
from grid.stacks import provider_host
from grid.stacks.local_provider import cgroup_limits
from grid.state.model import ResourceRecord, State


def _python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GRID_")}
    return subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True,
                          timeout=60, start_new_session=True, check=False)


def test_the_seam_kills_at_the_nth_occurrence_only() -> None:
    code = "from grid.killpoints import kill_point\nfor _ in range(3): kill_point('a'); kill_point('b')\nprint('done')"
    assert _python(code).stdout == "done\n"  # unarmed
    assert _python(code, GRID_KILL_AT="b:4").stdout == "done\n"  # never a 4th
    killed = _python(code, GRID_KILL_AT="b:2")
    assert killed.returncode == -signal.SIGKILL and killed.stdout == ""


def test_the_seam_takes_the_recorded_run_group_with_it(tmp_path: Path) -> None:
    """A process in another group (like a Pulumi plugin) kills the run's group and its own."""
    sleeper = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        code = "from grid.killpoints import kill_point\nkill_point('p')"  # a session (group) of its own
        killed = _python(code, GRID_KILL_AT="p:1", GRID_KILL_GROUP=str(sleeper.pid))
        assert killed.returncode == -signal.SIGKILL
        assert sleeper.wait(timeout=10) == -signal.SIGKILL
    finally:
        sleeper.kill()


def test_the_pause_stops_the_process_until_continued() -> None:
    process = subprocess.Popen([sys.executable, "-c", "from grid.killpoints import kill_point\nkill_point('x')\n"
                                "print('went on')"], env={**os.environ, "GRID_PAUSE_AT": "x:1"},
                               stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "T":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGCONT)
    assert process.communicate(timeout=30)[0] == "went on\n"


def _tagged_sleep(tag: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["sleep", "60"], env={**os.environ, reaper.RUN_ENV: tag})


def test_the_reaper_ends_processes_of_dead_runs_of_this_workdir_only(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    orphan = _tagged_sleep(f"{tmp_path.resolve()}|{dead.pid}|1")
    live = _tagged_sleep(reaper.run_tag(tmp_path))  # its run (this process) is alive
    other = _tagged_sleep(f"{(tmp_path / 'other').resolve()}|{dead.pid}|1")
    try:
        time.sleep(0.2)
        assert reaper.orphans(tmp_path) == [orphan.pid]
        assert reaper.reap(tmp_path) == [orphan.pid]
        assert orphan.wait(timeout=10) == -signal.SIGKILL
        assert live.poll() is None and other.poll() is None
    finally:
        for process in (orphan, live, other):
            process.kill()
            process.wait()


def _dead_pid() -> int:
    dead = subprocess.Popen(["true"])
    dead.wait()
    return dead.pid


def test_leftovers_of_dead_runs_go_and_a_live_runs_stay(tmp_path: Path) -> None:
    """ansible-run-*/gates-* named after their process; .known_hosts temps of a dead writer; directories
    of unknown owner (older grid, or another host sharing the work directory) once an hour quiet."""
    dead = _dead_pid()
    names = {
        "dead ansible run": f"{reaper.owned_prefix('ansible-run')}x".replace(f"-{os.getpid()}.", f"-{dead}.", 1),
        "dead gates": f"{reaper.owned_prefix('gates')}y".replace(f"-{os.getpid()}.", f"-{dead}.", 1),
        "reused pid": f"ansible-run-{os.getpid()}.1.{reaper.host_id()}-z",  # same pid, other start time
        "live ansible run": f"{reaper.owned_prefix('ansible-run')}live",
        "other host's run": f"ansible-run-{dead}.5.00000000-w",
        "old unowned": "ansible-run-oldabcd",
        "fresh unowned": "gates-fresh123",
    }
    for name in names.values():
        (tmp_path / name / "artifacts").mkdir(parents=True)
        (tmp_path / name / "artifacts" / "command").write_text('{"env": {}}')
    for name in (names["old unowned"], names["other host's run"]):
        hour_ago = time.time() - 3700
        for path in (tmp_path / name, tmp_path / name / "artifacts", tmp_path / name / "artifacts" / "command"):
            os.utime(path, (hour_ago, hour_ago))
    stale_temp = tmp_path / f".known_hosts.{dead}.140.tmp"
    live_temp = tmp_path / f".known_hosts.{os.getpid()}.140.tmp"
    for temp in (stale_temp, live_temp):
        temp.write_text("")
        os.utime(temp, (time.time() - 60, time.time() - 60))
    kept = ["state.json", "known_hosts", "gatesx", "secrets"]
    for name in kept:
        (tmp_path / name).write_text("")

    removed = {p.name for p in reaper.remove_leftovers(tmp_path)}

    gone = {names[k] for k in ("dead ansible run", "dead gates", "reused pid", "other host's run", "old unowned")}
    assert removed == gone | {stale_temp.name}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [*kept, names["live ansible run"], names["fresh unowned"], live_temp.name])


def test_the_run_directory_of_a_killed_process_goes_at_the_next_reap(tmp_path: Path) -> None:
    code = ("import os, tempfile, sys\nfrom grid.apply.reaper import owned_prefix\n"
            f"d = tempfile.mkdtemp(prefix=owned_prefix('ansible-run'), dir={str(tmp_path)!r})\n"
            "open(os.path.join(d, 'command'), 'w').write('PGPASSWORD')\nprint(d, flush=True)\n"
            "os.kill(os.getpid(), 9)")
    killed = _python(code)
    assert killed.returncode == -signal.SIGKILL
    left = Path(killed.stdout.strip())
    assert left.is_dir() and left.parent == tmp_path
    assert reaper.reap(tmp_path) == []
    assert not left.exists()


def test_tagged_sets_and_restores_the_tag(tmp_path: Path) -> None:
    before = os.environ.get(reaper.RUN_ENV)
    with reaper.tagged(tmp_path) as tag:
        assert os.environ[reaper.RUN_ENV] == tag and tag.startswith(f"{tmp_path.resolve()}|{os.getpid()}|")
    assert os.environ.get(reaper.RUN_ENV) == before


def test_the_provider_watchdog_ends_its_group_when_the_engine_goes() -> None:
    with socket.socket() as engine:
        engine.bind(("127.0.0.1", 0))
        engine.listen()
        port = engine.getsockname()[1]
        provider = subprocess.Popen([sys.executable, "-c", "from grid.stacks.provider_host import watch\n"
                                     f"watch(('127.0.0.1', {port}), 0.05)"], start_new_session=True)
        time.sleep(0.5)
        assert provider.poll() is None, "it must wait while the engine answers"
    assert provider.wait(timeout=10) == -signal.SIGKILL


def test_the_provider_launcher_runs_the_module_with_its_arguments() -> None:
    assert provider_host.split(["-u", "-m", "pulumi.dynamic", "127.0.0.1:4000"]) == ("pulumi.dynamic",
                                                                                    ["127.0.0.1:4000"])
    assert provider_host.engine_address(["127.0.0.1:4000"]) == ("127.0.0.1", 4000)
    assert provider_host.engine_address(["--flag"]) is None
    with pytest.raises(SystemExit):
        provider_host.split(["-u"])


def test_a_pulumi_lock_is_stale_only_when_its_process_is_gone_from_this_host(tmp_path: Path) -> None:
    def lock(pid: int, host: str) -> Path:
        path = tmp_path / f"{pid}-{host}.json"
        path.write_text(json.dumps({"pid": pid, "username": "root", "hostname": host,
                                    "timestamp": "2026-01-01T00:00:00Z"}))
        return path

    dead = subprocess.Popen(["true"])
    dead.wait()
    here = socket.gethostname()
    assert stale_lock(lock(dead.pid, here))
    assert stale_lock(lock(os.getpid(), here)), "a live pid that is not pulumi was reused"
    assert not stale_lock(lock(dead.pid, "another-host.invalid"))
    torn = tmp_path / "torn.json"
    torn.write_text('{"pid": 12')
    assert stale_lock(torn)


def test_an_interrupted_region_is_marked_until_its_result_is_recorded() -> None:
    record = ResourceRecord(address="east/fabric/mgmt", kind="fabric", region="east")
    state = _mark_interrupted(State(cluster="c", resources={record.address: record}), ["east", "west"])
    assert state.interrupted_regions() == ["east", "west"]
    state = forget_region(state, "east")
    assert state.interrupted_regions() == ["west"] and not state.resources
    assert forget_region(state, "west").interrupted == []


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_real_limits_come_from_the_cgroup(tmp_path: Path, version: str) -> None:
    group = "libpod_parent/libpod-abc"
    if version == "v2":
        (tmp_path / group).mkdir(parents=True)
        (tmp_path / group / "cpu.max").write_text("50000 100000\n")
        (tmp_path / group / "memory.max").write_text(f"{512 * 1024 * 1024}\n")
    else:
        for controller, name, value in (("cpu", "cpu.cfs_quota_us", "75000"), ("cpu", "cpu.cfs_period_us", "100000"),
                                        ("memory", "memory.limit_in_bytes", str(9223372036854771712))):
            (tmp_path / controller / group).mkdir(parents=True, exist_ok=True)
            (tmp_path / controller / group / name).write_text(value + "\n")
    expected = (0.5, 0.5) if version == "v2" else (0.75, None)
    assert cgroup_limits("/" + group, root=tmp_path) == expected
    assert cgroup_limits("/missing", root=tmp_path) is None


def test_torn_backend_files_of_a_killed_pulumi_are_repaired(tmp_path: Path) -> None:
    """fileblob truncates then writes an object's `.attrs` sidecar: a kill leaves it empty, and Pulumi then
    fails with "failed to load checkpoint: EOF" forever. A missing sidecar is fine to it."""
    from grid.drivers.pulumi_automation import AutomationEngine

    engine = AutomationEngine(project="grid-c", target="local", workdir=tmp_path, passphrase_file=tmp_path / "pp")
    stacks = tmp_path / "pulumi-backend" / ".pulumi" / "stacks" / "grid-c"
    stacks.mkdir(parents=True)
    good = {"version": 3, "checkpoint": {"stack": "east"}}
    (stacks / "east.json").write_text('{"version": 3, "checkp')  # torn
    (stacks / "east.json.bak").write_text(json.dumps(good))
    (stacks / "east.json.attrs").write_text("")
    (stacks / "east.json.bak.attrs").write_text('{"md5": "x"}')
    (stacks / "east.json.18ec74c7d79aaf94.tmp").write_text("partial")
    (stacks / "west.json.attrs").write_text("")  # another region's: its worker may be writing it
    (stacks / "west.json.18ec74c7d79aaf95.tmp").write_text("in flight")
    assert engine._repair_sidecars("east") == [stacks / "east.json.attrs"]
    assert (stacks / "east.json.bak.attrs").exists()
    engine._restore_checkpoint("east")
    assert json.loads((stacks / "east.json").read_text()) == good
    assert [p.name for p in stacks.glob("*.tmp")] == ["west.json.18ec74c7d79aaf95.tmp"]
    assert (stacks / "west.json.attrs").exists()


def test_a_pulumi_failure_says_what_failed_not_the_outputs_diff() -> None:
    from grid.drivers.pulumi import _last_lines

    output = """code: 1
 stdout: Updating (east):
Diagnostics:
  pulumi-python:dynamic:Resource (east/train/node-0001):
    error: Exception calling application: Traceback (most recent call last):
      File "/src/grid/stacks/local_provider.py", line 142, in create
        container_id = podman.container_run(
                       ^^^^^^^^^^^^^^^^^^^^^
    grid.drivers.podman.PodmanError: podman run exited 125: Error: name "n" is in use: container already exists
Outputs:
  - nodes: {
      - east/train/node-0001: {"container_id": "49a2"}
    }
Resources:
    2 errored
 stderr: """
    assert _last_lines(output).splitlines() == [
        "pulumi-python:dynamic:Resource (east/train/node-0001):",
        "  error: Exception calling application:",
        '  grid.drivers.podman.PodmanError: podman run exited 125: Error: name "n" is in use: container already exists']
    assert _last_lines("code: 255\n stderr: error: failed to load checkpoint: EOF\n") == \
        "error: failed to load checkpoint: EOF"


FAKE_PROVIDER = """
import signal, sys, threading, time

def poke():  # SIGINT as the kernel may deliver Pulumi's: to a thread that is not the main one
    time.sleep(0.3)
    signal.pthread_kill(threading.get_ident(), signal.SIGINT)
    time.sleep(30)

threading.Thread(target=poke, daemon=True).start()
try:
    threading.Event().wait()  # pulumi.dynamic's main thread, waiting for ever
except KeyboardInterrupt:
    sys.exit(3)
"""


@pytest.mark.parametrize("hosted", [True, False])
def test_pulumis_sigint_ends_the_provider_whichever_thread_it_lands_on(tmp_path: Path, hosted: bool) -> None:
    """Pulumi stops a provider with SIGINT and kills it 5 s later: under provider_host it ends at once (a plain
    Python process, whose handler only the main thread acts on, would still be waiting)."""
    (tmp_path / "fake_provider.py").write_text(FAKE_PROVIDER)
    launch = ["-m", "grid.stacks.provider_host", "-u", "-m", "fake_provider"] if hosted else ["-m", "fake_provider"]
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    provider = subprocess.Popen([sys.executable, *launch], env=env, start_new_session=True)
    try:
        code = provider.wait(timeout=3)
    except subprocess.TimeoutExpired:
        code = None
    finally:
        provider.kill()
        provider.wait()
    assert code == (-signal.SIGINT if hosted else None)
