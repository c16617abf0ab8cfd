"""`grid schema`: the JSON Schema of the cluster spec, for editors and CI."""

from __future__ import annotations

import json

import typer

from grid.spec.schema import cluster_json_schema


def register(app: typer.Typer) -> None:
    app.command("schema")(schema)


def schema() -> None:
    """Print the JSON Schema of the cluster spec (point your editor's YAML plugin at it)."""
    typer.echo(json.dumps(cluster_json_schema(), indent=2, sort_keys=True))
