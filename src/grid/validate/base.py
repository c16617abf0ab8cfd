"""What every validator is: a function of the cluster returning findings (grid.validate runs them all)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from grid.diagnostics import Diagnostic
from grid.spec.model import Cluster

Validator = Callable[[Cluster], Iterable[Diagnostic]]
