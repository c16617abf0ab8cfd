"""What `grid import --local` tells the operator: what was adopted, what is missing or left alone, what next."""

from __future__ import annotations

from grid.operations.import_local import LocalImported

from .. import console


def show_local_import(result: LocalImported) -> None:
    errors = console.errout()
    for line in result.problems:
        errors.print(f"warning: {line}", markup=False)
    output = console.out()
    output.print(f"adopted {len(result.adopted)} resource(s) of lineage {result.lineage}: "
                 + ", ".join(result.adopted), markup=False)
    for address in result.missing:
        output.print(f"missing: {address} (in the spec, not in podman): the next `grid up` creates it", markup=False)
    if result.rekeyed:
        output.print("the cluster's SSH key was not found: a new one was made in the work directory's secrets/ "
                     "and given to the nodes in place of the old one", markup=False)
    if result.stacks:
        output.print("Pulumi stacks written: " + ", ".join(result.stacks), markup=False)
    spec = f"wrote {result.spec_path} and " if result.spec_written else ""
    output.print(f"{spec}the state in {result.state_where} (serial {result.serial})", markup=False)
    output.print(f"next: grid plan {result.spec_path}  "
                 + ("(it creates only what is missing)" if result.missing else "(it should change nothing)"),
                 markup=False)
