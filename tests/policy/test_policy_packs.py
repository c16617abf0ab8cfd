"""Policy packs on disk: what makes a pack unusable (with file:line:col), and the digest of its files."""

from __future__ import annotations

from pathlib import Path

import pytest

from grid.policy.packs import PolicyError, combined_digest, load_pack, pack_digest

POLICY = """\
from grid.policy import policy

@policy(name="always", level="advisory")
def always(plan, config):
    return ["seen"]
"""


def make_pack(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def test_a_pack_is_its_py_files_and_the_settings_of_its_pack_yaml(tmp_path: Path) -> None:
    pack = load_pack(make_pack(tmp_path / "caps", {
        "b.py": POLICY, "a.py": POLICY, "_helpers.py": "", "pack.yaml":
        "name: power-caps\ndescription: caps\ntimeout_seconds: 2\nlevels: {always: disabled}\nconfig: {cap: 5}\n"}))
    assert pack.name == "power-caps"
    assert [f.name for f in pack.files] == ["a.py", "b.py"]  # helpers (_*.py) are not policies
    assert pack.config == {"cap": 5} and pack.levels == {"always": "disabled"} and pack.timeout == 2
    assert pack.path.is_absolute()


def test_without_pack_yaml_the_pack_is_named_after_its_directory(tmp_path: Path) -> None:
    pack = load_pack(make_pack(tmp_path / "freeze", {"f.py": POLICY}))
    assert (pack.name, dict(pack.config), pack.timeout) == ("freeze", {}, 10.0)


def test_a_missing_or_empty_directory_is_refused_with_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="does not exist") as missing:
        load_pack(tmp_path / "nowhere")
    assert missing.value.hint
    with pytest.raises(PolicyError, match=r"has no policies \(no .py or .rego file in it\)"):
        load_pack(make_pack(tmp_path / "empty", {"README.md": "nothing"}))


@pytest.mark.parametrize(("text", "where", "words"), [
    ("name: x\nthresholds: {cap: 5}\n", "2:1", "unknown key 'thresholds'"),
    ("levels:\n  always: sometimes\n", "2:11", "level 'sometimes' of policy 'always'"),
    ("timeout_seconds: -1\n", "1:18", "timeout_seconds must be a number of seconds"),
    ("config: [1, 2]\n", "1:9", "'config' must be a mapping"),
    ("config: {cap: 5\n", "2:1", ""),  # YAML syntax: where the parser stopped
    ("name: Not A Name\n", "1:7", "is not a plain name"),
])
def test_a_bad_pack_yaml_is_a_diagnostic_at_its_line_and_column(tmp_path: Path, text: str, where: str,
                                                                words: str) -> None:
    directory = make_pack(tmp_path / "p", {"a.py": POLICY, "pack.yaml": text})
    with pytest.raises(PolicyError) as raised:
        load_pack(directory)
    assert raised.value.message.startswith(f"{directory / 'pack.yaml'}:{where}: "), raised.value.message
    assert words in raised.value.message
    assert "Traceback" not in raised.value.message


def test_the_digest_covers_every_file_of_the_pack_but_not_bytecode(tmp_path: Path) -> None:
    directory = make_pack(tmp_path / "p", {"a.py": POLICY, "pack.yaml": "config: {cap: 5}\n"})
    first = pack_digest(directory)
    assert first.startswith("sha256:") and pack_digest(directory) == first
    (directory / "__pycache__").mkdir()
    (directory / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0")
    assert pack_digest(directory) == first
    (directory / "pack.yaml").write_text("config: {cap: 6}\n")  # a threshold changed
    second = pack_digest(directory)
    assert second != first
    (directory / "a.py").rename(directory / "b.py")  # the same bytes under another name
    assert pack_digest(directory) != second
    assert combined_digest([("x", first)]) != combined_digest([("x", second)])
