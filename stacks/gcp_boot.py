"""The startup script of a gcp node: what cloud-init does on the other clouds (stacks/cloud_common.cloud_config).

GCP's Debian images boot with Google's guest agent, not cloud-init: it runs the instance's
`startup-script` metadata as root at every boot. So the script is idempotent: the hostname, the cluster
key for the SSH user (the `ssh-keys` metadata alone does not reach root), the SSH port, directories,
fstab lines of shared storage (mounted now and at every boot), block volumes formatted the first time.
Paths and devices are shell-safe (the spec schema and GCP's device names restrict them); the key is
quoted.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

import pulumi

from . import cloud_common as cloud


def startup_script(data: Mapping[str, Any], node: Mapping[str, Any], boot: cloud.BootPlan) -> pulumi.Output[str]:
    ssh = data.get("ssh") or {}
    user, port = str(ssh.get("user", "root")), int(ssh.get("port", 22))
    key = shlex.quote(cloud.cluster_key(data))
    home = "/root" if user == "root" else f"/home/{user}"
    lines: list[pulumi.Input[str]] = [
        "#!/bin/sh\n# grid: what node " + str(node["address"]) + " needs at boot (run at every boot)\nset -u\n",
        f"hostnamectl set-hostname {shlex.quote(str(node['hostname']))}\n",
    ]
    if user != "root":
        lines.append(f"id {user} >/dev/null 2>&1 || useradd -m -s /bin/bash {user}\n"
                     f"echo '{user} ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/90-grid && "
                     "chmod 0440 /etc/sudoers.d/90-grid\n")
    keys = f"{home}/.ssh/authorized_keys"
    lines.append(f"install -d -m 0700 -o {user} -g {user} {home}/.ssh\n"
                 f"grep -qxF {key} {keys} 2>/dev/null || echo {key} >> {keys}\n"
                 f"chown {user}:{user} {keys} && chmod 0600 {keys}\n")
    if port != 22:
        lines.append(f"printf '# grid: the cluster SSH port\\nPort {port}\\n' > /etc/ssh/sshd_config.d/90-grid.conf\n"
                     "systemctl restart ssh\n")
    lines += [f"mkdir -p {directory}\n" for directory in boot.directories]
    for source, mount, fstype, options, *_ in boot.mounts:
        line = pulumi.Output.concat(source, " ", mount, " ", fstype, " ", options, " 0 0")
        lines.append(pulumi.Output.concat(
            "mkdir -p ", mount, "\ngrep -qs ' ", mount, " ' /etc/fstab || echo '", line, "' >> /etc/fstab\n"))
    if boot.mounts:
        lines.append("mount -a -t nfs,nfs4 || true\n")
    for device, mount in boot.devices:
        lines += [pulumi.Output.format(cloud._FORMAT_AND_MOUNT, dev=device, mnt=mount), "\n"]
    return pulumi.Output.concat(*lines)
