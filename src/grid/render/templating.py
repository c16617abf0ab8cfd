"""The Jinja2 environment every rendered file comes from: strict, deterministic."""

from __future__ import annotations

import functools
import json
from importlib import resources
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


def canonical_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True) + "\n"
