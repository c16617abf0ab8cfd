"""safety.py: no system account as a user, no system directory as a mount, no sysctl that runs a program."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from grid.diagnostics import Diagnostic, Severity
from grid.spec import load_spec_text
from grid.validate import safety, validate
from support.specs import SPEC_HEAD as HEAD
from support.specs import findings, where

REGION = """\
  regions:
    - name: east
      site: {power_mw: 1}
      fabrics:
        - {name: mgmt, cidr: 198.18.0.0/24}
      storage:
        - {name: pfs, capacity_tib: 1, mount: MOUNT}
      pools:
        - {name: train, count: 2, fabrics: [mgmt], storage: [pfs]}
"""


def found(text: str) -> list[Diagnostic]:
    return findings(text, "safety.")


def spec(mount: str = "/shared", configuration: str = "", defaults: str = "") -> str:
    return HEAD + defaults + REGION.replace("MOUNT", mount) + configuration


def with_users(*names: str, admin: str = "gridadmin") -> str:
    users = "".join(f"      - {{name: {name}}}\n" for name in names)
    return spec(configuration=f"  configuration:\n    admin_user: {admin}\n    users:\n{users}")


def with_sysctl(key: str, value: str) -> str:
    return spec(configuration=f"  configuration:\n    sysctl:\n      {key}: {value}\n")


# -- users ---------------------------------------------------------------------------------------------------

def test_ordinary_users_are_fine() -> None:
    assert found(with_users("alice", "bob", "ops-team", "svc_train")) == []


@pytest.mark.parametrize("name", ["root", "nobody", "daemon", "bin", "sys", "www-data", "_apt", "sshd", "messagebus",
                                  "munge", "slurm", "systemd-network", "systemd-timesync", "_chrony"])
def test_a_system_account_as_user_is_refused_at_its_name(name: str) -> None:
    (diag,) = found(with_users("alice", name))
    assert diag.severity is Severity.ERROR
    assert diag.summary == f"user '{name}' is a system account of the nodes"
    assert diag.path == ("spec", "configuration", "users", 1, "name")
    assert where(diag) == (19, 16)
    assert "sudo" in diag.detail and diag.hint


def test_root_as_user_says_it_would_allow_root_logins() -> None:
    (diag,) = found(with_users("root"))
    assert diag.detail.endswith("to logins as root")


def test_a_system_account_as_admin_user_is_refused() -> None:
    (diag,) = found(with_users("alice", admin="nobody"))
    assert diag.summary == "admin_user 'nobody' is a system account of the nodes"
    assert diag.path == ("spec", "configuration", "admin_user")
    assert where(diag) == (16, 17)


def test_admin_user_root_keeps_its_one_finding() -> None:
    diags = [d for d in validate(load_spec_text(with_users("alice", admin="root"), "t.yaml")) if d.path ==
             ("spec", "configuration", "admin_user")]
    assert [d.summary for d in diags] == ["admin_user must not be 'root'"]


def test_the_account_grid_connects_as_is_not_a_user() -> None:
    text = with_users("alice", "admin").replace("  target: local\n", "  target: local\n  defaults:\n"
                                                                      "    ssh: {user: admin}\n", 1)
    (diag,) = found(text)
    assert diag.summary == "user 'admin' is the account grid connects as (defaults.ssh.user)"
    assert diag.code == "safety.connection-account"
    assert diag.path == ("spec", "configuration", "users", 1, "name")


# -- mounts --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mount", ["/shared", "/home", "/home/shared", "/srv", "/srv/data", "/opt/software", "/mnt/pfs",
                                   "/scratch", "/data", "/var/www", "/var/opt/x", "/etcetera", "/procs", "/user",
                                   "/tmpdata", "/var/libs", "/runs"])
def test_ordinary_mount_points_are_fine(mount: str) -> None:
    assert found(spec(mount)) == []


@pytest.mark.parametrize(("mount", "tree"), [
    ("/etc", "/etc"), ("/proc", "/proc"), ("/sys", "/sys"), ("/dev", "/dev"), ("/usr", "/usr"), ("/boot", "/boot"),
    ("/root", "/root"), ("/var/lib", "/var/lib"), ("/bin", "/bin"), ("/sbin", "/sbin"), ("/lib", "/lib"),
    ("/lib64", "/lib64"), ("/run", "/run"), ("/var/run", "/var/run"), ("/var/log", "/var/log"),
    ("/var/spool", "/var/spool"), ("/var/cache", "/var/cache"), ("/tmp", "/tmp"), ("/var/tmp", "/var/tmp"),
    ("/var", "/var"),
])
def test_a_system_directory_as_mount_is_refused_at_the_mount(mount: str, tree: str) -> None:
    (diag,) = found(spec(mount))
    assert diag.severity is Severity.ERROR
    assert diag.summary == f"storage 'pfs' mounts at {mount}, a system directory"
    assert diag.path == ("spec", "regions", 0, "storage", 0, "mount")
    assert where(diag) == (12, 47)
    assert diag.detail.startswith(f"{tree} holds ")
    assert "/shared" in diag.hint


@pytest.mark.parametrize(("mount", "tree"), [
    ("/root/.ssh", "/root"), ("/etc/ssh", "/etc"), ("/proc/x", "/proc"), ("/usr/local/share", "/usr"),
    ("/var/lib/shared", "/var/lib"), ("/dev/shm", "/dev"), ("/tmp/scratch", "/tmp"), ("/run/user", "/run"),
])
def test_a_mount_inside_a_system_directory_is_refused(mount: str, tree: str) -> None:
    (diag,) = found(spec(mount))
    assert diag.summary == f"storage 'pfs' mounts at {mount}, inside the system directory {tree}"


def test_a_mount_in_a_storage_no_pool_uses_is_refused_too() -> None:
    text = spec().replace("      pools:\n", "        - {name: spare, capacity_tib: 1, mount: /etc/x}\n      pools:\n")
    (diag,) = found(text)
    assert diag.path == ("spec", "regions", 0, "storage", 1, "mount")


@pytest.mark.parametrize(("path", "normal"), [
    ("/etc", "/etc"), ("/etc/", "/etc"), ("//etc", "/etc"), ("/usr//lib/", "/usr/lib"), ("/./root/.ssh", "/root/.ssh"),
    ("/", "/"), ("//", "/"), ("/a/../etc", None), ("/..", None), ("etc", None), ("", None),
])
def test_paths_are_compared_normalised(path: str, normal: str | None) -> None:
    assert safety.normalised(path) == normal


def test_unnormalised_system_paths_still_name_their_tree() -> None:
    for path in ("/etc/", "//etc", "/root//.ssh", "/var/./lib"):
        normal = safety.normalised(path)
        assert normal is not None and safety.system_tree(normal) is not None, path
    assert safety.system_tree("/") == "/"


@pytest.mark.parametrize("mount", ["/", "/etc/", "//etc", "/shared/../etc", "/a/./b", "etc", "/etc\n"])
def test_the_schema_refuses_paths_that_are_not_absolute_and_normalised(mount: str) -> None:
    loaded = load_spec_text(spec(f'"{mount}"'.replace("\n", "\\n")), "t.yaml")
    assert loaded.cluster is None
    assert any(d.path == ("spec", "regions", 0, "storage", 0, "mount") for d in loaded.diagnostics)


# -- sysctls -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("key", "value"), [
    ("net.core.rmem_max", "67108864"), ("kernel.core_uses_pid", "1"), ("kernel.core_pattern", "core"),
    ("kernel.core_pattern", "/var/crash/core.%e.%p"), ("kernel.core_pattern", "/tmp/core.%p"),
    ("vm.swappiness", "10"), ("kernel.modprobe_extra", "1"),
])
def test_ordinary_sysctls_are_fine(key: str, value: str) -> None:
    assert found(with_sysctl(key, value)) == []


@pytest.mark.parametrize("key", ["kernel.modprobe", "kernel.hotplug", "kernel.poweroff_cmd",
                                 "kernel.usermodehelper.bset", "kernel.usermodehelper.inheritable",
                                 "fs.binfmt_misc.register", "fs.binfmt_misc.status"])
def test_a_sysctl_that_runs_a_program_is_refused_at_it(key: str) -> None:
    (diag,) = found(with_sysctl(key, "/opt/evil"))
    assert diag.severity is Severity.ERROR
    assert diag.summary == f"sysctl {key} makes the kernel run a program"
    assert diag.path == ("spec", "configuration", "sysctl", key)
    assert where(diag) == (17, len(key) + 9)


@pytest.mark.parametrize("value", ["/etc/cron.d/core.%p", "/usr/lib/x", "/root/core", "/var/spool/cron/crontabs/x",
                                   "/tmp/../etc/cron.d/x", "/var/crash/../../x"])
def test_core_dumps_into_system_configuration_are_refused(value: str) -> None:
    (diag,) = found(with_sysctl("kernel.core_pattern", value))
    assert diag.summary.startswith(("sysctl kernel.core_pattern writes core dumps into ",
                                    "sysctl kernel.core_pattern has a '..' segment"))
    assert diag.code == "safety.core-dump-path"


@pytest.mark.parametrize("value", ['"|/opt/evil %p"', '" |/opt/evil"', '"1\\nkernel.modprobe = /opt/evil"',
                                   '"a\\rb"', '"x\\u0000"', '"a=b"', "'{{ lookup(\"pipe\", \"id\") }}'"])
def test_the_schema_refuses_pipes_newlines_and_control_characters_in_values(value: str) -> None:
    loaded = load_spec_text(with_sysctl("kernel.core_pattern", value), "t.yaml")
    assert loaded.cluster is None
    assert any(d.path == ("spec", "configuration", "sysctl", "kernel.core_pattern") for d in loaded.diagnostics)


@pytest.mark.parametrize("key", ['"kernel.x\\nkernel.modprobe"', '"a.b=c"', '"kernel/modprobe"', '"-kernel.modprobe"',
                                 '"Kernel.Modprobe"', '"kernel.modprobe "'])
def test_the_schema_refuses_keys_that_are_not_plain_dotted_names(key: str) -> None:
    loaded = load_spec_text(with_sysctl(key, "1"), "t.yaml")
    assert loaded.cluster is None


def test_a_pipe_core_pattern_is_refused_even_past_the_schema() -> None:
    loaded = load_spec_text(with_sysctl("kernel.core_pattern", "core"), "t.yaml")
    assert loaded.cluster is not None
    config = loaded.cluster.spec.configuration.model_copy(update={"sysctl": {"kernel.core_pattern": " |/opt/evil"}})
    cluster = loaded.cluster.model_copy(update={"spec": loaded.cluster.spec.model_copy(
        update={"configuration": config})})
    (diag,) = safety.sysctls_run_no_program(cluster)
    assert diag.summary == "sysctl kernel.core_pattern pipes core dumps to a program"


# -- the accounts of the real node image ---------------------------------------------------------------------

@pytest.mark.e2e
def test_every_account_of_the_node_image_is_a_system_account() -> None:
    image = os.environ.get("GRID_NODE_IMAGE", "localhost/grid-node:latest")
    if shutil.which("podman") is None or subprocess.run(["podman", "image", "exists", image],
                                                        check=False).returncode != 0:
        pytest.skip(f"node image {image} not built (make setup builds it)")
    passwd = subprocess.run(["podman", "run", "--rm", "--network", "none", image, "cat", "/etc/passwd"],
                            capture_output=True, text=True, check=True, timeout=120).stdout
    accounts = [line.split(":", 1)[0] for line in passwd.splitlines() if line.strip()]
    assert "root" in accounts and "sshd" in accounts
    assert [name for name in accounts if not safety.is_system_account(name)] == []
