#!/bin/sh
# Run once per node (grid keeps a marker of this script's digest): record when the node was first configured.
date -u +%Y-%m-%dT%H:%M:%SZ > /var/lib/node-ready
