"""The podman references of the local target's node images, shared by the spec (grid.spec.images), the local
stack program (stacks/local.py) and the import of a local deployment (grid.importing.local_deployment): a module
of its own so that Pulumi's stack worker, which needs only these names, does not load the spec's models with
them (~0.16 s on each region's critical path)."""

from __future__ import annotations

DEFAULT_NODE_IMAGE_REF = "localhost/grid-node:latest"
"""The podman reference of the default image on the local target (images/node/, as scripts/setup.sh builds it)."""
POOL_IMAGE_REPOSITORY = "localhost/grid-pool-"
"""Images grid builds from a recipe are tagged localhost/grid-pool-<image name>:<recipe hash>."""
