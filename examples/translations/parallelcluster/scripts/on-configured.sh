#!/bin/sh
# What the peer's head-node OnNodeConfigured script does first: a message of the day naming the cluster.
set -eu
printf 'llm-p5: 16 x p5.48xlarge; data on /fsx, homes on /home, node-local scratch on /scratch\n' > /etc/motd
