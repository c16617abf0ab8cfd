"""storage.py (and the mount parts of safety.py and references.py): storage as people mount it."""

from __future__ import annotations

import pytest

from grid.diagnostics import Diagnostic
from grid.resources import Kind, expand
from grid.spec import load_spec_text
from support.specs import SPEC_HEAD as HEAD
from support.specs import findings, where

REGION = """\
  regions:
    - name: east
      site: {power_mw: 1}
      fabrics:
        - {name: mgmt, cidr: 198.18.0.0/24}
      storage:
STORAGE
      pools:
        - {name: train, count: 2, fabrics: [mgmt], storage: [POOL]}
"""
TWO_MOUNTS = """\
        - name: pfs
          capacity_tib: 1
          mounts:
            - {path: /checkpoints, options: [rw, noatime]}
            - {path: /datasets, options: [ro], subdir: datasets}
        - name: scratch
          kind: local-scratch
          mounts:
            - {path: /mnt/localssd, mode: "1777"}
"""


def spec(storage: str, pool: str = "pfs") -> str:
    return HEAD + REGION.replace("STORAGE\n", storage).replace("POOL", pool)


def found(text: str, prefix: str = "") -> list[Diagnostic]:
    return [d for d in findings(text, prefix) if d.code.startswith(("storage.", "safety.", "references."))]


def test_several_mounts_options_subdir_and_scratch_are_fine() -> None:
    assert found(spec(TWO_MOUNTS, "pfs, scratch")) == []


def test_the_old_single_mount_and_an_object_bucket_without_capacity_are_fine() -> None:
    text = spec("        - {name: pfs, capacity_tib: 1, mount: /shared}\n"
                "        - {name: bucket, kind: object, mount: /bucket}\n", "pfs, bucket")
    assert found(text) == []


@pytest.mark.parametrize("path", ["/etc", "/proc", "/sys", "/dev", "/boot", "/usr", "/var/lib",
                                  "/var/lib/x", "/etc/ssh"])
def test_a_system_path_among_mounts_is_refused_at_its_path(path: str) -> None:
    text = spec(f"        - name: pfs\n          capacity_tib: 1\n          mounts:\n            - {{path: /ok}}\n"
                f"            - {{path: {path}}}\n")
    (diag,) = found(text)
    assert diag.code == "safety.system-mount"
    assert diag.path == ("spec", "regions", 0, "storage", 0, "mounts", 1, "path")
    assert where(diag) == (16, 22)


@pytest.mark.parametrize("path", ["/", "/data/../etc", "relative", "/a b"])
def test_dot_segments_and_odd_paths_are_refused_by_the_schema(path: str) -> None:
    loaded = load_spec_text(spec(f"        - name: pfs\n          capacity_tib: 1\n          mounts:\n"
                                 f"            - {{path: '{path}'}}\n"), "t.yaml")
    assert loaded.cluster is None
    (diag,) = loaded.diagnostics
    assert diag.path[-3:] == ("mounts", 0, "path")


def test_mode_must_be_a_quoted_octal_string() -> None:
    loaded = load_spec_text(spec("        - name: s\n          kind: local-scratch\n          mounts:\n"
                                 "            - {path: /mnt/ssd, mode: 1777}\n", "s"), "t.yaml")
    (diag,) = loaded.diagnostics
    assert "quoted octal string" in diag.summary + diag.detail
    loaded = load_spec_text(spec("        - name: s\n          kind: local-scratch\n          mounts:\n"
                                 "            - {path: /mnt/ssd, mode: '1778'}\n", "s"), "t.yaml")
    assert loaded.cluster is None


def test_subdir_is_relative() -> None:
    loaded = load_spec_text(spec("        - name: pfs\n          capacity_tib: 1\n          mounts:\n"
                                 "            - {path: /d, subdir: /abs}\n"), "t.yaml")
    assert loaded.cluster is None
    loaded = load_spec_text(spec("        - name: pfs\n          capacity_tib: 1\n          mounts:\n"
                                 "            - {path: /d, subdir: a/../../b}\n"), "t.yaml")
    assert loaded.cluster is None


def test_two_mounts_at_one_path_of_a_pool_are_refused() -> None:
    text = spec(TWO_MOUNTS.replace("/mnt/localssd", "/datasets"), "pfs, scratch")
    (diag,) = found(text)
    assert diag.code == "references.mount-collision"
    assert diag.summary == "pool 'train' mounts storage 'scratch' and 'pfs' at the same path /datasets"
    assert diag.path == ("spec", "regions", 0, "pools", 0, "storage", 1)


def test_one_storage_twice_at_one_path_is_refused() -> None:
    text = spec("        - name: pfs\n          capacity_tib: 1\n          mounts:\n            - {path: /d}\n"
                "            - {path: /d, options: [ro]}\n")
    (diag,) = found(text)
    assert diag.code == "storage.mount-collision"
    assert where(diag) == (16, 22)


@pytest.mark.parametrize(("options", "summary"), [
    ("[noatim]", "unknown mount option 'noatim'"),
    ("[ro, rw]", "options 'ro' and 'rw' contradict"),
    ("[ro, ro]", "option 'ro' given twice"),
])
def test_options_are_known_and_consistent(options: str, summary: str) -> None:
    (diag,) = found(spec(f"        - name: pfs\n          capacity_tib: 1\n          mounts:\n"
                         f"            - {{path: /d, options: {options}}}\n"))
    assert diag.code == "storage.mount-option"
    assert summary in diag.summary
    assert diag.path[-2] == "options"


def test_a_near_option_is_suggested_and_key_values_pass() -> None:
    (diag,) = found(spec("        - name: pfs\n          capacity_tib: 1\n          mounts:\n"
                         "            - {path: /d, options: [noatim, 'vers=4.1']}\n"))
    assert diag.hint.startswith("did you mean 'noatime'?")


def test_option_charset_is_refused_by_the_schema() -> None:
    loaded = load_spec_text(spec("        - name: pfs\n          capacity_tib: 1\n          mounts:\n"
                                 "            - {path: /d, options: ['ro;reboot']}\n"), "t.yaml")
    assert loaded.cluster is None


@pytest.mark.parametrize(("storage", "code"), [
    ("        - {name: pfs, mount: /d}\n", "storage.capacity"),
    ("        - {name: pfs, capacity_tib: 1}\n", "storage.no-mount"),
    ("        - {name: pfs, capacity_tib: 1, mount: /d, mounts: [{path: /e}]}\n", "storage.mount-twice"),
    ("        - {name: pfs, capacity_tib: 1, mounts: [{path: /d, options: [ro], mode: '0755'}]}\n",
     "storage.mode-read-only"),
    ("        - {name: pfs, kind: local-scratch, mounts: [{path: /d, subdir: x}]}\n", "storage.subdir-kind"),
    ("        - {name: pfs, kind: block, capacity_tib: 1, mounts: [{path: /d}, {path: /e}]}\n",
     "storage.block-mounts"),
])
def test_storage_shape_findings(storage: str, code: str) -> None:
    (diag,) = found(spec(storage))
    assert diag.code == code
    assert diag.source is not None


def test_expansion_keeps_old_attrs_and_adds_binds_and_directories() -> None:
    old = load_spec_text(spec("        - {name: pfs, capacity_tib: 1, mount: /shared}\n"), "t.yaml").cluster
    same = load_spec_text(spec("        - {name: pfs, capacity_tib: 1, mounts: [{path: /shared}]}\n"),
                          "t.yaml").cluster
    assert old is not None and same is not None
    assert expand(old) == expand(same)
    (node, *_) = expand(old).of_kind(Kind.NODE)
    assert node.attrs["storage"] == {"pfs": "/shared"} and "mounts" not in node.attrs
    cluster = load_spec_text(spec(TWO_MOUNTS, "pfs, scratch"), "t.yaml").cluster
    assert cluster is not None
    graph = expand(cluster)
    (volume,) = graph.of_kind(Kind.VOLUME)  # scratch is no volume
    assert volume.attrs["mounts"] == ["/checkpoints", "/datasets"]
    node = graph.of_kind(Kind.NODE)[0]
    assert node.attrs["storage"] == {}
    assert node.attrs["mounts"] == [
        {"storage": "pfs", "path": "/checkpoints", "options": ["rw", "noatime"], "subdir": None},
        {"storage": "pfs", "path": "/datasets", "options": ["ro"], "subdir": "datasets"}]
    assert node.attrs["directories"] == [{"storage": "scratch", "path": "/mnt/localssd", "mode": "1777"}]
