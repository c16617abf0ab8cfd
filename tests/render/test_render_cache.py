"""site.yml's text kept in the work directory (grid.render.templating.render_cached, issue 20 start-up): a hit is
byte-identical to rendering, anything that could change the text misses, a damaged entry is rendered again, and a
no-op `grid up`'s digests then need no Jinja2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from grid.render import templating
from grid.render.ansible import shared_files
from grid.spec import load_spec
from support.paths import LOCAL_LAB

SITE = "ansible/site.yml.j2"
VALUES = dict(cluster="lab", roles=["base", "fabric"], become=False, directories=True, firewall=True,
              firewall_follows_pools=False, own_config=True, remove_firewall=False, remove_limits=False,
              remove_names=False, slurm=False, names=True)


def entries(directory: Path) -> list[Path]:
    return sorted(directory.glob("render-*"))


def test_a_hit_is_byte_identical_to_rendering(tmp_path: Path) -> None:
    rendered = templating.render(SITE, **VALUES)
    with templating.cached_in(tmp_path):
        first = templating.render_cached(SITE, **VALUES)
        second = templating.render_cached(SITE, **VALUES)
    assert first == second == rendered
    assert len(entries(tmp_path)) == 1


def test_the_host_digests_are_the_same_with_the_cache_cold_warm_or_off(tmp_path: Path) -> None:
    cluster = load_spec(str(LOCAL_LAB)).cluster
    assert cluster is not None
    off = shared_files(cluster, ["base", "fabric"])
    with templating.cached_in(tmp_path):
        cold = shared_files(cluster, ["base", "fabric"])
        warm = shared_files(cluster, ["base", "fabric"])
    assert off == cold == warm


def test_other_values_or_another_template_text_miss(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with templating.cached_in(tmp_path):
        templating.render_cached(SITE, **VALUES)
        templating.render_cached(SITE, **{**VALUES, "become": True})
        assert len(entries(tmp_path)) == 2
        # A tuple and a list render differently: they are different keys.
        templating.render_cached(SITE, **{**VALUES, "roles": ("base", "fabric")})
        assert len(entries(tmp_path)) == 3
        original = templating._template_source
        monkeypatch.setattr(templating, "_template_source",
                            lambda name: (original(name) or "") + "# an edited template\n")
        templating.environment.cache_clear()
        try:
            edited = templating.render_cached(SITE, **VALUES)
        finally:
            templating.environment.cache_clear()
    assert edited.endswith("# an edited template\n")
    assert len(entries(tmp_path)) == 4


def test_a_damaged_entry_is_rendered_again(tmp_path: Path) -> None:
    with templating.cached_in(tmp_path):
        good = templating.render_cached(SITE, **VALUES)
        (entry,) = entries(tmp_path)
        entry.write_text(entry.read_text().replace("hosts:", "hosts: evil"))
        assert templating.render_cached(SITE, **VALUES) == good
        entry.write_bytes(b"\xff\xfe")
        assert templating.render_cached(SITE, **VALUES) == good


def test_values_a_repr_cannot_pin_down_are_not_cached(tmp_path: Path) -> None:
    class Opaque:
        def __str__(self) -> str:
            return "lab"

    with templating.cached_in(tmp_path):
        assert "lab" in templating.render_cached(SITE, **{**VALUES, "cluster": Opaque()})
    assert entries(tmp_path) == []


def test_without_a_cache_directory_or_when_it_cannot_be_written_it_renders(tmp_path: Path) -> None:
    assert templating.render_cached(SITE, **VALUES) == templating.render(SITE, **VALUES)
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    with templating.cached_in(blocked / "cache"):
        assert templating.render_cached(SITE, **VALUES) == templating.render(SITE, **VALUES)


def test_the_cache_keeps_a_few_entries(tmp_path: Path) -> None:
    with templating.cached_in(tmp_path):
        for n in range(templating._CACHE_KEPT + 5):
            templating.render_cached(SITE, **{**VALUES, "cluster": f"lab{n}"})
    assert len(entries(tmp_path)) == templating._CACHE_KEPT


def test_a_hit_loads_no_jinja2(tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "from pathlib import Path\n"
        "from grid.render import templating\n"
        f"values = {VALUES!r}\n"
        f"with templating.cached_in(Path({str(tmp_path)!r})):\n"
        f"    text = templating.render_cached({SITE!r}, **values)\n"
        "print('jinja2' in sys.modules)\n"
    )
    runs = [subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
            for _ in range(2)]
    assert [run.stdout.strip() for run in runs] == ["True", "False"]
