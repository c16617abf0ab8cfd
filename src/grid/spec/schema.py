"""JSON Schema of the spec, straight from the models so it never drifts from validation."""

from __future__ import annotations

from typing import Any

from grid.spec.model import API_VERSION, Cluster


def cluster_json_schema() -> dict[str, Any]:
    schema = Cluster.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"urn:grid:schema:{API_VERSION.replace('/', '-')}"
    schema["title"] = "grid cluster spec"
    return schema
