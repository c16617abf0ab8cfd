"""The Jinja2 environment every rendered file comes from: strict, deterministic."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import json
import os
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported by the first render: the paths that only validate or read never load Jinja2
    import jinja2


def _template_source(name: str) -> str | None:
    """A template of the grid.templates package by its path (`ansible/site.yml.j2`); None when absent."""
    source = resources.files("grid.templates").joinpath(*name.split("/"))
    return source.read_text() if source.is_file() else None


@functools.cache
def environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_template_source),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["tojson_sorted"] = lambda value: json.dumps(value, sort_keys=True)
    return env


def render(template: str, **values: Any) -> str:
    return environment().get_template(template).render(**values)


_CACHE_KEPT = 8  # entries kept in a cache directory: a cluster's site.yml has two forms (digest, run)
_cache_dir: Path | None = None


@contextlib.contextmanager
def cached_in(directory: Path) -> Iterator[None]:
    """render_cached keeps its texts in `directory` meanwhile (a work directory's): a no-op `grid up` then
    neither imports Jinja2 nor compiles site.yml.j2, ~40 ms of its start-up (issue 20)."""
    global _cache_dir
    before, _cache_dir = _cache_dir, directory
    try:
        yield
    finally:
        _cache_dir = before


def render_cached(template: str, **values: Any) -> str:
    """render(), from the cache directory when one is set (cached_in) and it holds this render. The key is the
    template's text, Jinja2's version and the values as JSON: anything that could change the text changes the
    key, so a hit is byte-identical to rendering. A template that includes others must not use this."""
    source = _template_source(template)
    jinja = _jinja_marker()
    if _cache_dir is None or source is None or jinja is None:
        return render(template, **values)
    if not all(_plain(value) for value in values.values()):  # only values whose repr says all of them
        return render(template, **values)
    document = repr((template, source, jinja, sorted(values.items())))  # a tuple is not a list here
    path = _cache_dir / ("render-" + hashlib.sha256(document.encode()).hexdigest())
    with contextlib.suppress(OSError, UnicodeDecodeError):
        digest, _, text = path.read_bytes().decode().partition("\n")
        if digest == hashlib.sha256(text.encode()).hexdigest():  # a damaged entry is rendered again
            return text
    text = render(template, **values)
    with contextlib.suppress(OSError):  # a cache that cannot be written only costs the next run the render
        _store(path, hashlib.sha256(text.encode()).hexdigest() + "\n" + text)
    return text


def _plain(value: object) -> bool:
    if value is None or isinstance(value, str | int | float):  # bool is an int
        return True
    if isinstance(value, list | tuple):
        return all(_plain(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and _plain(item) for key, item in value.items())
    return False


@functools.cache
def _jinja_marker() -> str | None:
    """Jinja2's `__init__.py` (it carries `__version__`), read rather than imported (importing is what the cache
    saves), and this module (the environment's settings and filters)."""
    spec = importlib.util.find_spec("jinja2")
    if spec is None or spec.origin is None:
        return None
    try:
        own = resources.files(__package__).joinpath("templating.py").read_bytes()
        return hashlib.sha256(Path(spec.origin).read_bytes() + own).hexdigest()
    except OSError:
        return None


def _store(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_bytes(content.encode())
    os.replace(temporary, path)  # whole or not at all: a concurrent run reads the old entry or this one
    entries = sorted(path.parent.glob("render-*"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
    for stale in entries[_CACHE_KEPT:]:
        stale.unlink(missing_ok=True)


def canonical_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True) + "\n"
