"""grid: declarative orchestrator for AI compute clusters.

The core library is pure until `grid.apply` and `grid.drivers`: it returns values
(Spec, Diagnostics, Plan, State, Events) and never prints or exits.
"""

__version__ = "0.1.0"
