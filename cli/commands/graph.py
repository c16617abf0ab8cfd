"""`grid graph SPEC -o OUT.svg|png`: a diagram of regions, power budgets, pools, fabrics and links."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import typer

from grid.physics import cluster_dot, summarize
from grid.spec import load_spec
from grid.validate import validate as validate_spec

from .. import console

FORMATS = ("svg", "png", "pdf", "dot")
TIMEOUT_S = 300


def register(app: typer.Typer) -> None:
    app.command("graph")(graph)


def graph(
    spec: Path = typer.Argument(..., help="Cluster spec (YAML)."),
    output: Path = typer.Option(..., "--output", "-o", help="Output: .svg, .png, .pdf, or .dot (DOT text)."),
) -> None:
    """Draw the cluster: regions (red when over their power budget), pools, fabrics, storage, links."""
    fmt = output.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        suffixes = ", ".join("." + f for f in FORMATS)
        raise console.CommandFailed(f"cannot tell the image format from '{output.name}'",
                                    hint=f"name the output file with one of: {suffixes}")
    loaded = load_spec(str(spec))
    findings = validate_spec(loaded)
    if len(findings):
        console.print_diagnostics(findings, loaded.source)
    if findings.has_errors or loaded.cluster is None:
        raise typer.Exit(1)
    dot_text = cluster_dot(loaded.cluster, summarize(loaded.cluster))
    if fmt == "dot":
        _write(output, dot_text.encode())
    else:
        _write(output, _render(dot_text, fmt))
    console.out().print(f"wrote {output}", markup=False)


def _render(dot_text: str, fmt: str) -> bytes:
    dot = shutil.which("dot")
    if dot is None:
        raise console.CommandFailed(
            "the Graphviz 'dot' program is not on PATH",
            hint="install graphviz (make setup does), or write .dot text with -o OUT.dot")
    try:
        done = subprocess.run([dot, f"-T{fmt}"], input=dot_text.encode(), capture_output=True,
                              timeout=TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise console.CommandFailed(f"Graphviz 'dot' took longer than {TIMEOUT_S} s",
                                    hint="write .dot text with -o OUT.dot and render it yourself") from None
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise console.CommandFailed(f"Graphviz 'dot' failed (exit {done.returncode})",
                                    hint=message[-1] if message else "run dot by hand on the .dot output")
    return done.stdout


def _write(output: Path, data: bytes) -> None:
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        tmp = output.with_name(output.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(output)
    except OSError as exc:
        raise console.CommandFailed(f"cannot write {output}: {exc.strerror}", hint="check the path") from None
