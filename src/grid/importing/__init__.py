"""`grid import`: adopt what already runs into a spec and a state, such that the next plan is empty.

`model.Imported` is what an import of hosts over SSH returns (grid.importing.hosts: sources, discover, layout,
writer, state, merge); grid.operations.importing.record_import writes it, once, atomically. The local
target's podman resources are adopted by grid.operations.import_local.
"""

from grid.importing.model import Imported

__all__ = ["Imported"]
