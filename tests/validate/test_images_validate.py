"""spec.images and pools[].image: the mistakes people make, each at file:line:col with a hint."""

from __future__ import annotations

from pathlib import Path

from grid.diagnostics import Diagnostic, Severity
from grid.spec import load_spec, load_spec_text
from grid.validate import validate
from support.specs import SPEC_HEAD, findings, where


def spec(images: str, pool_image: str = "slurm", head: str = SPEC_HEAD) -> str:
    image = f", image: {pool_image}" if pool_image else ""
    return head + images + f"""\
  regions:
    - name: east
      site: {{power_mw: 1}}
      fabrics:
        - {{name: mgmt, cidr: 198.18.0.0/24}}
      pools:
        - {{name: ctl, count: 1, fabrics: [mgmt]{image}}}
"""


SLURM = "  images:\n    - {name: slurm, packages: [slurm-wlm, munge]}\n"


def found(text: str) -> list[Diagnostic]:
    return findings(text, "images.")


def test_a_recipe_and_a_pool_naming_it_validate() -> None:
    assert found(spec(SLURM)) == []


def test_an_unknown_image_is_refused_with_a_suggestion() -> None:
    (diag,) = found(spec(SLURM, pool_image="slrum"))
    assert diag.severity is Severity.ERROR and "'slrum'" in diag.summary
    assert diag.hint == "did you mean 'slurm'?"
    assert where(diag) == (14, 57)


def test_grid_node_is_the_default_image_and_needs_no_recipe() -> None:
    assert found(spec("", pool_image="grid-node")) == []


def test_a_package_name_debian_would_refuse_is_a_schema_error_at_its_position() -> None:
    loaded = load_spec_text(spec("  images:\n    - {name: slurm, packages: [Slurm_WLM]}\n"), "t.yaml")
    assert loaded.cluster is None
    (diag,) = [d for d in loaded.diagnostics if "Debian package name" in d.summary + d.detail]
    assert diag.source is not None and diag.source.line == 7


def test_duplicate_names_and_the_default_name_are_refused() -> None:
    text = spec("  images:\n    - {name: slurm}\n    - {name: slurm}\n    - {name: grid-node}\n")
    codes = sorted((d.code, where(d)[0]) for d in found(text))
    assert codes == [("images.duplicate", 8), ("images.name", 9)]


def test_a_base_must_be_listed_before_the_image_built_on_it() -> None:
    text = spec("  images:\n    - {name: slurm, base: extra}\n    - {name: extra}\n")
    (diag,) = found(text)
    assert diag.code == "images.base" and "listed after it" in diag.summary


def test_an_unknown_base_gets_a_suggestion() -> None:
    (diag,) = found(spec("  images:\n    - {name: slurm, base: grid-nod}\n"))
    assert diag.hint == "did you mean 'grid-node'?"


def test_a_mode_written_as_a_yaml_number_is_refused() -> None:
    loaded = load_spec_text(spec("  images:\n    - name: slurm\n      files: [{src: a, dest: /etc/a, mode: 0644}]\n"),
                            "t.yaml")
    assert loaded.cluster is None
    assert any("quoted octal" in d.summary + d.detail for d in loaded.diagnostics)


def test_a_destination_with_dot_segments_is_refused() -> None:
    loaded = load_spec_text(spec("  images:\n    - name: slurm\n      files: [{src: a, dest: /etc/../root/x}]\n"),
                            "t.yaml")
    assert loaded.cluster is None


def _written(tmp_path: Path, files: str) -> list[Diagnostic]:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "x.conf").write_text("x = 1\n")
    path = tmp_path / "cluster.yaml"
    path.write_text(spec(f"  images:\n    - name: slurm\n      files:\n{files}"))
    return [d for d in validate(load_spec(str(path))) if d.code.startswith("images.")]


def test_files_next_to_the_spec_are_read(tmp_path: Path) -> None:
    assert _written(tmp_path, "        - {src: conf/x.conf, dest: /etc/x.conf}\n") == []


def test_a_missing_file_is_refused_at_its_src(tmp_path: Path) -> None:
    (diag,) = _written(tmp_path, "        - {src: conf/y.conf, dest: /etc/x.conf}\n")
    assert "no file conf/y.conf" in diag.summary and where(diag) == (9, 17)


def test_a_file_outside_the_spec_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path.parent / "secret.txt").write_text("no\n")
    (diag,) = _written(tmp_path, "        - {src: ../secret.txt, dest: /etc/x.conf}\n")
    assert "outside the spec's folder" in diag.summary


def test_a_destination_written_twice_is_refused(tmp_path: Path) -> None:
    (diag,) = _written(tmp_path, "        - {src: conf/x.conf, dest: /etc/x.conf}\n"
                                 "        - {src: conf/x.conf, dest: /etc/x.conf}\n")
    assert "twice" in diag.summary


AWS_HEAD = "apiVersion: grid/v1\nkind: Cluster\nmetadata: {name: t}\nspec:\n  target: aws\n"


def test_a_cloud_without_an_image_id_gets_a_warning_naming_the_pool_and_the_cloud() -> None:
    loaded = load_spec_text(spec(SLURM, head=AWS_HEAD), "t.yaml")
    assert loaded.cluster is not None
    (diag,) = [d for d in validate(loaded) if d.code == "images.cloud"]
    assert diag.severity is Severity.WARNING
    assert "pool 'ctl'" in diag.summary and "aws" in diag.summary and "build.sh" in diag.detail


def test_a_cloud_with_an_image_id_gets_no_warning() -> None:
    images = "  images:\n    - {name: slurm, packages: [munge], clouds: {aws: ami-0123456789abcdef0}}\n"
    loaded = load_spec_text(spec(images, head=AWS_HEAD), "t.yaml")
    assert loaded.cluster is not None
    assert [d for d in validate(loaded) if d.code == "images.cloud"] == []
