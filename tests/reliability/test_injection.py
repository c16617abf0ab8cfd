"""Names that reach a shell, a template or a file path are restricted by the schema, so injection is
impossible: names carrying `;`, `$()`, backticks, `../`, newlines or quotes are refused by validation,
and fuzzed *valid* names rendered through `grid render` stay inside the output directory, keep every
rendered document's structure, and never reach a rendered command.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from badspecs import BASE, NAME_FIELDS, _set, dump
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from grid.diagnostics import path_text
from support.cli import invoke

TOKENS = [";", "$(reboot)", "`id`", "../", "..", "\n", "\r", "'", '"', "a b", "|", "&", ">"]
R0, R1 = ("spec", "regions", 0), ("spec", "regions", 1)
PATH_FIELDS = [(*R0, "storage", 0, "mount"), (*R1, "storage", 0, "mount")]


@pytest.mark.parametrize("token", TOKENS, ids=repr)
@pytest.mark.parametrize("field", NAME_FIELDS, ids=lambda p: path_text(p))
def test_a_name_with_shell_or_path_syntax_is_refused(tmp_path: Path, field: tuple[Any, ...], token: str) -> None:
    spec = tmp_path / "cluster.yaml"
    spec.write_bytes(dump(_set(BASE, field, f"ab{token}cd")))
    ran = invoke("validate", str(spec))
    assert ran.code == 1, ran.output
    assert path_text(field) in ran.stderr or path_text(field[:-1]) in ran.stderr, ran.stderr


@pytest.mark.parametrize("mount", ["/shared/../../etc", "/..", "/a/./b", "/a;b", "/$(id)", "/a`id`", "/a\nb",
                                   "/a b", "/'x'", 'relative', "//", "/a/"])
@pytest.mark.parametrize("field", PATH_FIELDS, ids=lambda p: path_text(p))
def test_a_mount_path_that_walks_or_breaks_out_is_refused(tmp_path: Path, field: tuple[Any, ...],
                                                          mount: str) -> None:
    spec = tmp_path / "cluster.yaml"
    spec.write_bytes(dump(_set(BASE, field, mount)))
    ran = invoke("validate", str(spec))
    assert ran.code == 1, ran.output
    assert path_text(field) in ran.stderr, ran.stderr


# -- valid names, fuzzed, through `grid render` -------------------------------------------------------------

NAME = st.from_regex(r"\A[a-z]([-a-z0-9]{0,18}[a-z0-9])?\Z")
USER = st.from_regex(r"\A[a-z_][a-z0-9_-]{0,31}\Z")
ROLE = st.from_regex(r"\A[a-z][a-z0-9_-]{0,40}\Z")
LABEL_KEY = st.from_regex(r"\A[a-z0-9]([-a-z0-9_./]{0,61}[a-z0-9])?\Z")
LABEL_VALUE = st.from_regex(r"\A[A-Za-z0-9._-]{0,63}\Z")
SYSCTL_KEY = st.from_regex(r"\A[a-z0-9_]{1,10}(\.[a-z0-9_-]{1,10}){1,3}\Z")
SYSCTL_TEXT = st.from_regex(r"\A[A-Za-z0-9 ._:/-]{1,60}\Z")
SEGMENT = st.from_regex(r"\A[A-Za-z0-9._-]{1,12}\Z").filter(lambda s: s not in (".", ".."))
MOUNT = st.lists(SEGMENT, min_size=1, max_size=4).map(lambda parts: "/" + "/".join(parts))
FREE_TEXT = st.text(st.characters(min_codepoint=0x20, exclude_characters="\x7f"), max_size=64)  # province
KEY_COMMENT = st.text(st.characters(min_codepoint=0x20, exclude_characters="\x7f"), max_size=100)
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGrid0000000000000000000000000000000000000000000"


@st.composite
def valid_specs(draw: st.DrawFn) -> dict[str, Any]:
    regions = draw(st.lists(NAME, min_size=2, max_size=2, unique=True))
    fabrics = draw(st.lists(NAME, min_size=2, max_size=2, unique=True))
    admin, user = draw(st.lists(USER, min_size=2, max_size=2, unique=True))
    data = json.loads(json.dumps(BASE))
    spec = data["spec"]
    data["metadata"] = {"name": draw(NAME), "labels": draw(st.dictionaries(LABEL_KEY, LABEL_VALUE, max_size=3))}
    for region, name in zip(spec["regions"], regions, strict=True):
        region["name"] = name
        region["site"]["province"] = draw(FREE_TEXT)
        region["storage"][0]["name"] = draw(NAME)
        region["storage"][0]["mount"] = draw(MOUNT)
        pool = region["pools"][0]
        pool["name"] = draw(NAME)
        pool["storage"] = [region["storage"][0]["name"]]
        pool["roles"] = draw(st.lists(ROLE, min_size=1, max_size=3, unique=True))
    first = spec["regions"][0]
    renamed = dict(zip([f["name"] for f in first["fabrics"]], fabrics, strict=True))
    for fabric in first["fabrics"]:
        fabric["name"] = renamed[fabric["name"]]
    first["pools"][0]["fabrics"] = [renamed[f] for f in first["pools"][0]["fabrics"]]
    spec["regions"][1]["fabrics"][0]["name"] = draw(NAME)
    spec["regions"][1]["pools"][0]["fabrics"] = [spec["regions"][1]["fabrics"][0]["name"]]
    spec["links"][0]["between"] = regions
    spec["configuration"]["admin_user"] = admin
    spec["configuration"]["users"] = [{"name": user, "sudo": draw(st.booleans()),
                                       "authorized_keys": [f"{PUBLIC_KEY} {draw(KEY_COMMENT)}".rstrip()]}]
    spec["configuration"]["sysctl"] = draw(st.dictionaries(SYSCTL_KEY, st.one_of(SYSCTL_TEXT, st.integers(0, 2**31)),
                                                           min_size=1, max_size=4))
    return data


SAFE_ARG = re.compile(r"^[A-Za-z0-9._:/@=-]*$")  # what a name may bring to a podman argv


def _skeleton(source: str) -> str:
    """The program's syntax tree with every string constant blanked: equal skeletons = no code injected."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            node.value = ""
    return ast.dump(tree)


def _hosts(group: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every host of an inventory group and its children, with its vars (a host listed in several groups
    has its vars in one of them)."""
    found = {name: dict(hostvars or {}) for name, hostvars in (group.get("hosts") or {}).items()}
    for child in (group.get("children") or {}).values():
        for name, hostvars in _hosts(child or {}).items():
            found[name] = {**found.get(name, {}), **hostvars}
    return found


def _tree(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    root = tmp_path_factory.mktemp("baseline")
    (root / "cluster.yaml").write_bytes(dump(BASE))
    ran = invoke("render", str(root / "cluster.yaml"), "--out", str(root / "out"), "--workdir", str(root / "work"))
    assert ran.code == 0, ran.output
    return _tree(root / "out")


@pytest.mark.slow
def test_fuzzed_valid_names_render_inside_the_output_dir_and_never_into_a_command(
        tmp_path: Path, baseline: dict[str, bytes]) -> None:
    static = {path: body for path, body in baseline.items()
              if "/roles/" in path or "/action_plugins/" in path or path.endswith("ansible.cfg")}
    python_skeleton = _skeleton(next(b for p, b in baseline.items() if p.endswith("__main__.py")).decode())
    base_site = yaml.safe_load(baseline["ansible/site.yml"])
    base_all = yaml.safe_load(baseline["ansible/inventory/group_vars/all.yml"])
    base_host_keys = {k for v in _hosts(yaml.safe_load(baseline["ansible/inventory/hosts.yml"])["all"]).values()
                      for k in v}
    count = [0]

    @settings(max_examples=150, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(valid_specs())
    def renders_safely(data: dict[str, Any]) -> None:
        case = Path(tempfile.mkdtemp(prefix="case", dir=tmp_path))
        out, work = case / "out", case / "work"
        spec = case / "cluster.yaml"
        spec.write_bytes(dump(data))
        assume(invoke("validate", str(spec)).code == 0)  # e.g. a sysctl key the catalog refuses
        before = {p for p in tmp_path.rglob("*") if case not in p.parents}
        ran = invoke("render", str(spec), "--out", str(out), "--workdir", str(work))
        assert ran.code == 0, ran.output
        assert {p for p in tmp_path.rglob("*") if case not in p.parents} == before, "wrote outside its case"
        assert {p for p in case.rglob("*")} <= {case / "cluster.yaml", *out.rglob("*"), out, *work.rglob("*"), work}
        files = _tree(out)
        for path, body in files.items():
            assert re.fullmatch(r"[A-Za-z0-9/_.-]+", path) and ".." not in Path(path).parts, path
            assert (out / path).resolve().is_relative_to(out.resolve())
            if path.endswith((".yml", ".yaml")):
                yaml.safe_load(body)
            elif path.endswith(".json"):
                json.loads(body)
            elif path.endswith("__main__.py"):
                assert _skeleton(body.decode()) == python_skeleton, f"{path}: code changed with the names"
        for path, body in static.items():
            assert files[path] == body, f"{path} (commands) changed with the names"
        site = yaml.safe_load(files["ansible/site.yml"])
        # The same plays, hosts patterns, roles and tasks whatever the names: only the plays' titles differ.
        assert [{k: v for k, v in play.items() if k != "name"} for play in site] == \
            [{k: v for k, v in play.items() if k != "name"} for play in base_site]
        assert set(yaml.safe_load(files["ansible/inventory/group_vars/all.yml"])) == set(base_all)
        hosts = _hosts(yaml.safe_load(files["ansible/inventory/hosts.yml"])["all"])
        assert len(hosts) == 4 and all(set(v) == base_host_keys for v in hosts.values())
        cluster = data["metadata"]["name"]
        for region in data["spec"]["regions"]:
            project = yaml.safe_load(files[f"pulumi/{region['name']}/Pulumi.yaml"])
            assert set(project) == {"name", "description", "runtime"} and project["name"] == f"grid-{cluster}"
            program = json.loads(files[f"pulumi/{region['name']}/resources.json"])
            for node in program["nodes"]:  # what reaches podman's argv
                for key in ("container", "hostname", "address"):
                    assert SAFE_ARG.match(str(node[key])), (key, node[key])
                assert all(SAFE_ARG.match(m) for m in node["storage"].values())
            for item in program["fabrics"] + program["volumes"]:
                assert all(SAFE_ARG.match(str(item[k])) for k in ("network", "volume") if k in item)
        count[0] += 1
        # Checked: gone, so the next case's "wrote outside its case" walk is of one tree, not of every earlier one
        # (which made the test quadratic: ~0.5 s a case at the end).
        shutil.rmtree(case)

    renders_safely()
    assert count[0] >= 100, f"only {count[0]} generated specs were valid"
