"""What tests (and the live benchmarks in bench/) share, each in one place.

- `paths`: the repository's folders.
- `cli`: the one way to run `grid` — the installed console script (`grid`), killable in its own session
  (`start`), through the console entry in this process (`invoke`), or the Typer app keeping the failure
  (`invoke_app`); every run gives a `Run`.
- `specs`: spec makers. `lab_spec`/`small_lab` copy the local lab with a unique name and /24s of
  198.18.128.0/17 reserved for this process; `findings`/`where` read a spec text's diagnostics.
- `lab`: what podman holds for a test cluster, the invariants checked after a run, and cleanup.
- `fakes`: stand-ins for the stack engine, the Ansible runner, the state store and the remote shell.
- `postgres`, `pulumi_runs`, `schemas`: a throw-away PostgreSQL server, a real `pulumi up` to kill,
  JSON documents checked against docs/schemas.
"""
