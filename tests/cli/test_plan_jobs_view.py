"""The plan's text and markdown views name the jobs on the Slurm nodes a plan removes (grid.plan.jobs)."""

from __future__ import annotations

from grid.cli.views.markdown import plan_markdown
from grid.cli.views.plan import plan_lines
from grid.plan import Action, Plan, ResourceChange
from grid.plan.jobs import JobImpact, JobRef, NodeJobs


def shrinking(jobs: JobImpact | None) -> Plan:
    return Plan(cluster="lab", target="local", spec_digest="sha256:0", state_serial=3, state_lineage="l",
                changes=(ResourceChange("lab/train/node-0002", "node", "lab", Action.DELETE, reason="gone from spec"),),
                jobs=jobs)


def test_the_text_plan_says_which_jobs_wait_and_how_long() -> None:
    impact = JobImpact((NodeJobs("lab/train/node-0002", "lab-train-0002", "delete", (JobRef("1234", "sleep"),)),),
                       drain_timeout=600)
    text = [line for line, _ in plan_lines(shrinking(impact))]
    assert "  lab-train-0002: 1 job running (1234 sleep); drained first, up to 600 s" in text
    assert "lab-train-0002: 1 job running (1234 sleep); drained first, up to 600 s" in plan_markdown(
        shrinking(impact))


def test_jobs_unknown_and_no_section_without_slurm() -> None:
    unknown = JobImpact((NodeJobs("lab/train/node-0002", "lab-train-0002", "delete"),), drain_timeout=5,
                        unknown="the Slurm controller lab-ctl-0000 (198.18.17.2) cannot be asked: timed out")
    text = [line for line, _ in plan_lines(shrinking(unknown))]
    assert any(line.startswith("  lab-train-0002: jobs unknown (the Slurm controller") for line in text)
    assert not any("Slurm" in line for line, _ in plan_lines(shrinking(None)))
