"""The Typer options that several commands share (as `common.SPEC`, `common.WORKDIR`...: cli.common hands them
out). A module of their own so that `grid up SPEC` run without Typer (cli.main._quick) loads no Typer."""

from __future__ import annotations

import typer

SPEC = typer.Argument(..., help="Cluster spec (YAML).", show_default=False)
WORKDIR = typer.Option(None, "--workdir", help="Work directory for state and rendered files "
                       "(default: .grid/<cluster> next to the spec).")
JSON = typer.Option(False, "--json", help="Print a JSON document instead of text.")
YES = typer.Option(False, "--yes", "-y", help="Apply without asking (required when not interactive).")
STATE = typer.Option(None, "--state", envvar="GRID_STATE", show_envvar=True, show_default=False,
                     help="Where the state lives: postgres://user@host/db for team state (Pulumi stacks go in "
                          "the same database; give the password in PGPASSWORD or ~/.pgpass), file://DIR, or "
                          "leave out for state.json in the work directory.")
JSON_RESULT = typer.Option(False, "--json", help="Print one JSON result document (grid-result/v1) on stdout; "
                           "progress goes to stderr.")
SKIP_CHECK = typer.Option(False, "--skip-check", help="Do not run acceptance checks at the end.")
VERBOSE = typer.Option(False, "--verbose", "-v", help="Show every resource and task event.")
TRUST_NEW_HOSTS = typer.Option(
    False, "--trust-new-hosts", help="Targets existing, aws, openstack: pin the SSH host keys of nodes seen for the "
    "first time (check the fingerprints a run without this flag lists).")
ALLOW_JOB_IMPACT = typer.Option(
    False, "--allow-job-impact", help="With a scheduler: go on when jobs still run on the Slurm nodes the plan "
    "deletes or replaces after their drain waited scheduler.drain_timeout (or when the controller cannot be "
    "asked); those jobs end with their nodes.")
REGION = typer.Option(None, "--region", show_default=False,
                      help="Limit the run to this region (repeatable): its state partition only; other regions' "
                           "hosts it affects are shown and left to their own next run.")
TARGET = typer.Option(None, "--target", show_default=False,
                      help="Aim at part of the cluster (repeatable): a glob on addresses as plans print them "
                           "(east/*, */train/node-00*, east/fabric/mgmt, link/east--west; east/train: all under "
                           "it). Dependencies a new resource needs come along; a pattern matching nothing exits 1.")
EXCLUDE = typer.Option(None, "--exclude", show_default=False,
                       help="Leave these addresses out (repeatable; globs like --target): the run is the targets "
                            "(all without --target) minus these.")
POLICY = typer.Option(None, "--policy", show_default=False, metavar="DIR",
                      help="Run the policy pack in this directory on the plan (repeatable), besides the spec's own "
                           "(spec.policy.packs): a mandatory finding fails the plan and makes up/apply refuse "
                           "(docs/policy.md).")
