"""Issue 16's acceptance on the real lab with real Slurm: one cluster for the module (a controller, a train partition
of three Ascend nodes, an infer partition of two H100 nodes), checked as an operator would from the controller.

In order: jobs run on every node of each partition and see their GRES; a no-op `grid up` restarts nothing; growing
a pool by two while a job runs keeps the job running (the plan said which daemons restart) and the new nodes take
work; `grid up` killed with SIGKILL as the hosts start writing Slurm's files converges when run again (slurmctld
then runs the new configuration); files a killed run wrote everywhere without acting on them are acted on by the
rerun (the marker the files step writes first says what is owed); the
controller container killed mid-apply is brought back by the next `grid up` with the jobs Slurm had queued.
Shrinking (drain first) is test_slurm_drain_e2e's.
"""

from __future__ import annotations

import re
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.cli import Killable, grid, start, wait_for_no_survivors
from support.lab import consistency_problems, running_containers
from support.paths import EXAMPLES

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SUBNETS = ("198.19.128.0/24", "198.19.129.0/24")  # this test's range (198.19.128.0/20), apart from other tests'
CONTROLLER = "lab-ctl-0000"
TRAIN = [f"lab-train-{i:04d}" for i in range(3)]


@dataclass
class Lab:
    spec: Path
    name: str
    infer: int = 2
    min_job_age: int = 300  # slurm_conf's MinJobAge: a change `scontrol reconfigure` applies

    def write(self) -> None:
        data: dict[str, Any] = yaml.safe_load((EXAMPLES / "slurm" / "cluster.yaml").read_text())
        data["metadata"]["name"] = self.name
        region = data["spec"]["regions"][0]
        for fabric, cidr in zip(region["fabrics"], SUBNETS, strict=True):
            fabric["cidr"] = cidr
        counts = {"ctl": 1, "train": len(TRAIN), "infer": self.infer}
        for pool in region["pools"]:
            pool["count"] = counts[pool["name"]]
        data["spec"]["scheduler"]["slurm_conf"]["MinJobAge"] = self.min_job_age
        self.spec.write_text(yaml.safe_dump(data, sort_keys=False))

    @property
    def infer_nodes(self) -> list[str]:
        return [f"lab-infer-{i:04d}" for i in range(self.infer)]

    def on(self, host: str, command: str) -> str:
        done = subprocess.run(["podman", "exec", f"grid-{self.name}-{host}", "sh", "-c", command],
                              capture_output=True, text=True, check=False, timeout=120)
        assert done.returncode == 0, f"{host}: {command}\n{done.stdout}{done.stderr}"
        return done.stdout.strip()

    def ctl(self, command: str) -> str:
        return self.on(CONTROLLER, command)

    def submit(self, options: str) -> str:
        out = self.ctl(f"sbatch {options}")
        job = re.search(r"Submitted batch job (\d+)", out)
        assert job, out
        return job.group(1)

    def job_state(self, job: str) -> str:
        return re.search(r"JobState=(\S+)", self.ctl(f"scontrol show job -o {job}")).group(1)  # type: ignore[union-attr]

    def wait_for_job(self, job: str, states: set[str], seconds: float = 60) -> str:
        deadline = time.monotonic() + seconds
        while (state := self.job_state(job)) not in states:
            assert time.monotonic() < deadline, f"job {job} is {state}, not {states}:\n{self.ctl('squeue; sinfo -N')}"
            time.sleep(1)
        return state

    def running_setting(self, key: str) -> str:
        """What slurmctld runs with (`scontrol show config`: "MinJobAge = 300 sec")."""
        found = re.search(rf"^{key}\s*=\s*(\S+)", self.ctl("scontrol show config"), re.MULTILINE)
        assert found, key
        return found.group(1)

    def pids(self) -> dict[str, str]:
        """The pid of slurmctld on the controller and of slurmd on every compute node."""
        found = {CONTROLLER: self.ctl("cat /run/slurmctld.pid")}
        for host in TRAIN + self.infer_nodes:
            found[host] = self.on(host, "cat /run/slurmd.pid")
        return found

    def converged(self) -> None:
        problems = consistency_problems(self.spec, self.name)
        assert not problems, problems
        idle = self.ctl("sinfo -h -N -o '%N %T'")
        assert all(line.split()[1] in ("idle", "mixed", "allocated") for line in idle.splitlines()), idle


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    directory = tmp_path_factory.mktemp("slurm")
    made = Lab(directory / "cluster.yaml", "se-" + secrets.token_hex(3))
    made.write()
    try:
        up = grid("up", str(made.spec), "--yes")  # with the acceptance checks, as a user runs it
        assert up.code == 0, up.output
        yield made
    finally:
        grid("destroy", str(made.spec), "--yes")


def up_until(lab: Lab, pattern: str, then: Callable[[Killable], None], *, times: int = 1) -> tuple[Killable, list[str]]:
    """`grid up -v` of the lab; once `times` lines of its output match `pattern`, `then(run)`. The lines read."""
    run = start("up", str(lab.spec), "--yes", "--skip-check", "-v")
    assert run.process.stdout is not None
    lines: list[str] = []
    for line in run.process.stdout:
        lines.append(line)
        if re.search(pattern, line):
            times -= 1
            if times == 0:
                then(run)
                return run, lines
    run.process.wait()
    raise AssertionError(f"grid up ended ({run.process.returncode}) before /{pattern}/:\n{''.join(lines[-80:])}")


def test_jobs_run_on_every_node_of_each_partition_and_see_their_gres(lab: Lab) -> None:
    assert sorted(lab.ctl("srun -p train -N3 hostname").split()) == TRAIN
    assert sorted(lab.ctl("srun -p infer -N2 hostname").split()) == lab.infer_nodes
    devices = lab.ctl("srun -p infer -N2 --gres=gpu:h100-sxm:2 sh -c 'echo $(hostname) $CUDA_VISIBLE_DEVICES'")
    assert sorted(devices.splitlines()) == [f"{host} 0,1" for host in lab.infer_nodes]
    assert lab.ctl("scontrol show node lab-train-0000 | grep -o 'Gres=[^ ]*'") == "Gres=npu:ascend-910b:8"

    job = lab.submit("-p train -N3 -o /home/shared/se-%j.out --wrap 'srun hostname'")
    assert lab.wait_for_job(job, {"COMPLETED", "FAILED", "CANCELLED"}) == "COMPLETED"
    assert sorted(lab.ctl(f"cat /home/shared/se-{job}.out").split()) == TRAIN  # written by the batch job's nodes


def test_a_noop_up_changes_and_restarts_nothing(lab: Lab) -> None:
    before = lab.pids()
    again = grid("up", str(lab.spec), "--yes", "--skip-check")
    assert again.code == 0, again.output
    assert "No changes" in again.output, again.output
    assert lab.pids() == before


def test_growing_a_pool_keeps_the_running_job_and_the_new_nodes_take_work(lab: Lab) -> None:
    # A job that runs until released (a file on its node), so it is surely running across the whole grow.
    job = lab.submit("-p infer -w lab-infer-0000 -t 10 --wrap 'while [ ! -e /tmp/se-release ]; do sleep 1; done'")
    lab.wait_for_job(job, {"RUNNING"})
    controller_pid = lab.ctl("cat /run/slurmctld.pid")

    lab.infer = 4
    lab.write()
    plan = grid("plan", str(lab.spec))
    assert plan.code == 0, plan.output
    slurm = plan.output.split("Slurm:", 1)[1].split("Configuration", 1)[0]
    assert "restart slurmctld: running jobs continue" in slurm, plan.output
    assert "restart slurmd: running jobs continue" in slurm, plan.output
    assert "nodes added: lab-infer-0002, lab-infer-0003" in slurm, plan.output

    grown = grid("up", str(lab.spec), "--yes", "--skip-check")
    assert grown.code == 0, grown.output
    assert lab.ctl("cat /run/slurmctld.pid") != controller_pid  # the plan said restart: it did
    assert lab.job_state(job) == "RUNNING"
    assert sorted(lab.ctl("srun -p infer -w lab-infer-0002,lab-infer-0003 hostname").split()) == [
        "lab-infer-0002", "lab-infer-0003"]
    lab.on("lab-infer-0000", "touch /tmp/se-release")
    assert lab.wait_for_job(job, {"COMPLETED", "FAILED", "CANCELLED", "NODE_FAIL"}) == "COMPLETED"
    lab.converged()


def converges_to(lab: Lab, min_job_age: int) -> None:
    """`grid up` again: consistent state, idle nodes, slurmctld running `min_job_age`, jobs run."""
    rerun = grid("up", str(lab.spec), "--yes", "--skip-check")
    assert rerun.code == 0, rerun.output
    lab.converged()
    assert sorted(lab.ctl(f"srun -p infer -N{lab.infer} hostname").split()) == lab.infer_nodes
    assert lab.running_setting("MinJobAge") == str(min_job_age), "slurmctld still runs the configuration from " \
                                                                 "before the kill"


def test_grid_killed_during_the_reconfigure_converges_when_run_again(lab: Lab) -> None:
    """A reconfigure-only change (MinJobAge) reaches every host as a membership-scope run (one task per host:
    files, then the action); `grid up` killed with SIGKILL as the first host starts it; run again."""
    lab.min_job_age = 301
    lab.write()
    killed, _ = up_until(lab, r": slurm : Slurm's files and daemons: start", Killable.kill)
    killed.wait(60)
    assert not wait_for_no_survivors(killed.marker, 30), "processes of the killed run outlived it"
    converges_to(lab, 301)


def test_files_written_by_a_killed_run_are_still_acted_on_when_run_again(lab: Lab) -> None:
    """What a run killed after every host wrote its files, before any restart or reconfigure, leaves behind:
    the new files everywhere, and the action owed in the marker the files step writes first. The rerun finds the
    files as it renders them and must still reconfigure (without the marker nothing would tell it)."""
    before = lab.running_setting("MinJobAge")
    lab.min_job_age = 302
    lab.write()
    for host in [CONTROLLER, *TRAIN, *lab.infer_nodes]:
        lab.on(host, "sed -i 's/^MinJobAge=.*/MinJobAge=302/' /etc/slurm/slurm.conf && "
                     "echo reconfigure > /var/lib/slurm/grid-pending-action")
    assert lab.running_setting("MinJobAge") == before
    drift = grid("drift", str(lab.spec))
    assert "Slurm reconfigure left undone on lab-ctl-0000 by an interrupted run" in drift.output, drift.output
    converges_to(lab, 302)
    assert lab.ctl("ls /var/lib/slurm/grid-pending-action 2>/dev/null || true") == ""


def test_the_controller_killed_mid_apply_comes_back_with_the_jobs_slurm_kept(lab: Lab) -> None:
    held = lab.submit("-p train -H -J se-held --wrap 'true'")  # stays queued until released
    # Slurm keeps a job once slurmctld saved it in StateSaveLocation (batched, a few seconds after sbatch): a
    # SIGKILL before that loses it whoever runs Slurm. Wait for the save.
    deadline = time.monotonic() + 30
    while subprocess.run(["podman", "exec", f"grid-{lab.name}-{CONTROLLER}", "grep", "-q", "se-held",
                          "/var/lib/slurm/slurmctld/job_state"], check=False).returncode != 0:
        assert time.monotonic() < deadline, "slurmctld never saved the job"
        time.sleep(0.5)
    container = running_containers(lab.name)["lab/ctl/node-0000"]
    lab.min_job_age = 303
    lab.write()

    def kill_controller(_: Killable) -> None:
        subprocess.run(["podman", "kill", f"grid-{lab.name}-{CONTROLLER}"], capture_output=True, check=True)

    interrupted, _ = up_until(lab, rf"{CONTROLLER}: slurm : ", kill_controller)
    code, output = interrupted.wait(600)
    # The controller's one membership task may have finished as its container was killed: 0 or 1, never a crash.
    assert code in (0, 1) and "Traceback (most recent call last)" not in output, output

    again = grid("up", str(lab.spec), "--yes", "--skip-check")
    assert again.code == 0, again.output
    lab.converged()
    assert running_containers(lab.name)["lab/ctl/node-0000"] == container  # started again, not replaced
    assert lab.job_state(held) == "PENDING"
    assert "JobHeldUser" in lab.ctl(f"squeue -h -j {held} -o %r")
    assert lab.running_setting("MinJobAge") == "303"  # slurmctld started again from the files: all of them new
    assert sorted(lab.ctl("srun -p train -N3 hostname").split()) == TRAIN
    lab.ctl(f"scancel {held}")
