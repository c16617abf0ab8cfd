#!/bin/sh
# What the peer's OnNodeConfigured script of the GPU queue does: NCCL over EFA (libfabric) for every login.
set -eu
cat > /etc/profile.d/nccl-efa.sh <<'PROFILE'
export FI_PROVIDER=efa
export FI_EFA_USE_DEVICE_RDMA=1
export NCCL_PROTO=simple
PROFILE
chmod 0644 /etc/profile.d/nccl-efa.sh
