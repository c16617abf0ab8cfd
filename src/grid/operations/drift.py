"""`grid drift`: what changed in reality since the last apply, apart from spec changes; recorded for repair."""

from __future__ import annotations

from grid.drift import DriftReport, drift_report, record_drift
from grid.errors import OperationFailed
from grid.operations.engines import locked
from grid.operations.planning import PlanOptions, plan_against
from grid.workspace import Workspace, admin_public_key


def drift(ws: Workspace, *, targets: tuple[str, ...] = (), excludes: tuple[str, ...] = (),
          full_check: bool = False) -> DriftReport:
    """Refresh infrastructure (Pulumi) and configuration (one digest probe per host, Ansible check mode where
    digests differ), report the difference, and remember configuration drift so that the next `grid up` repairs
    exactly those hosts; `targets`/`excludes` (--target/--exclude): only the resources and hosts they select are
    checked and reported; `full_check` (--full-check): check mode on every host, as before the digests."""
    with locked(ws, "drift"):
        envelope, state = ws.read_state()
        if envelope is None or not state.resources:
            raise OperationFailed(f"cluster {ws.cluster.name} has no state yet",
                                  hint=f"run `grid up {ws.spec_path}` first")
        planned = plan_against(ws, envelope, state, public_key=admin_public_key(ws, state),
                               options=PlanOptions(refresh=True, targets=targets, excludes=excludes,
                                                   full_check=full_check))
        report = drift_report(planned.plan, state, dict(planned.live_hosts) if planned.live_hosts else None)
        if report.drifted:
            ws.store.write(record_drift(state, report), expected_serial=envelope.serial)
    return report
