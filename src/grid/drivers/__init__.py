"""Drivers: the only code that touches the world (podman, Pulumi, Ansible, SSH), behind small interfaces."""
