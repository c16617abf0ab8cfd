"""`grid up SPEC`: plan, confirm, apply (regions concurrently), configure, check (operation: grid.operations.up).

Typer is imported only by `register`: a plain `grid up SPEC` with flags and --workdir calls `run` without it
(cli.main._quick, issue 20 start-up).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from grid import operations
from grid.identity import Identity

from .. import common, console
from ..views.apply import ApplyView
from ..views.region_scope import show_elsewhere
from ..views.result import reporting

if TYPE_CHECKING:
    import typer


def register(app: typer.Typer) -> None:
    import typer

    def up(
        spec: Path = common.SPEC,
        workdir: Path | None = common.WORKDIR,
        state: str | None = common.STATE,
        yes: bool = common.YES,
        json_output: bool = common.JSON_RESULT,
        refresh: bool = typer.Option(False, "--refresh", help="Also compare configuration with reality first."),
        skip_check: bool = common.SKIP_CHECK,
        verbose: bool = common.VERBOSE,
        trust_new_hosts: bool = common.TRUST_NEW_HOSTS,
        allow_job_impact: bool = common.ALLOW_JOB_IMPACT,
        rotate_ssh_key: bool = typer.Option(
            False, "--rotate-ssh-key", help="Replace the cluster's admin SSH key: a new key pair, written to every "
            "host's authorized keys in place (no node is replaced); the old key is removed once all hosts have it."),
        regions: list[str] | None = common.REGION,
        targets: list[str] | None = common.TARGET,
        excludes: list[str] | None = common.EXCLUDE,
        policies: list[Path] | None = common.POLICY,
        heal: bool = typer.Option(
            False, "--heal", help="Run the quick health suite on every node; drain and quarantine failing ones (pool "
            "health.on_failure, at most health.max_unhealthy of a pool), replace them with the pool's next free "
            "slot or resume them once they pass again."),
    ) -> None:
        """Create or update the cluster so that it matches the spec."""
        run(spec, workdir, state=state, yes=yes, json_output=json_output, refresh=refresh, skip_check=skip_check,
            verbose=verbose, trust_new_hosts=trust_new_hosts, allow_job_impact=allow_job_impact,
            rotate_ssh_key=rotate_ssh_key, regions=regions, targets=targets, excludes=excludes, policies=policies,
            heal=heal)

    app.command("up")(up)


def run(spec: Path, workdir: Path | None, *, state: str | None = None, yes: bool = False, json_output: bool = False,
        refresh: bool = False, skip_check: bool = False, verbose: bool = False, trust_new_hosts: bool = False,
        allow_job_impact: bool = False, rotate_ssh_key: bool = False, regions: list[str] | None = None,
        targets: list[str] | None = None, excludes: list[str] | None = None, policies: list[Path] | None = None,
        heal: bool = False) -> None:
    """`grid up` with its options as values (the defaults are the options' own)."""
    with reporting(json_output, "up") as report:
        ws = common.workspace(spec, workdir, state, regions)
        report.cluster = ws.cluster.name
        view = ApplyView(ws, report, verbose=verbose)

        def approve(planned: operations.Planned, identity: Identity) -> None:
            view.rotation(identity)
            view.plan(planned.plan)
            show_elsewhere(planned, console.errout() if json_output else console.out())
            common.confirm("Apply these changes?", yes)

        options = operations.UpOptions(refresh=refresh, skip_check=skip_check, trust_new_hosts=trust_new_hosts,
                                       rotate_ssh_key=rotate_ssh_key, allow_job_impact=allow_job_impact,
                                       targets=common.patterns(targets), excludes=common.patterns(excludes),
                                       policy_dirs=tuple(policies or ()))
        if heal and (targets or excludes):
            raise console.CommandFailed("--heal looks at every node: it does not take --target/--exclude",
                                        hint="run `grid up --heal` without them")
        if heal:
            from grid.operations.heal import heal as heal_cluster  # health machinery: only when asked for

            from ..views.heal import show_healed

            show_healed(heal_cluster(ws, options, approve=approve, emit=view.progress), report)
            return
        outcome = operations.up(
            ws, options, approve=approve, emit=view.progress, on_applied=view.applied, on_node=view.checks.node)
        if outcome.status == "plan-errors":
            assert outcome.plan is not None
            view.plan(outcome.plan)
            raise console.CommandFailed("the plan has errors; nothing was changed: " + "; ".join(outcome.plan.errors))
        view.outcome(outcome)
