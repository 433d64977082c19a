"""``agent export``: a trained actor as ONNX or TorchScript, checked against torch.

POLICY is a policy directory (coordination or slicing: the card says which), a coordination
training run, or the name of a shipped policy (``topologies/policies/slicing/NAME`` first,
then the shipped coordination policies).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from agent.cli.common import input_errors


@click.command("export")
@click.argument("policy")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["onnx", "torchscript"]),
    required=True,
    help="onnx (for onnxruntime) or torchscript",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="the file to write (.onnx or .pt)",
)
@click.option("--users", type=click.IntRange(min=1), help="slicing: users per slice (padding)")
@click.option("--capacity", type=click.FloatRange(min=0, min_open=True), help="slicing: capacity")
@click.option(
    "--check", type=click.IntRange(min=0), default=1000, help="random inputs to compare with torch"
)
def export_command(
    policy: str, fmt: str, out: Path, users: int | None, capacity: float | None, check: int
) -> None:
    """Export a trained actor (coordination policy or slicing slave) to ONNX or TorchScript."""
    from agent.train.export import Format, export, load_exportable, max_difference

    with input_errors():
        exportable = load_exportable(policy, users, capacity)
    kind: Format = "onnx" if fmt == "onnx" else "torchscript"
    written = export(exportable, kind, out)
    result: dict[str, object] = {
        "policy": exportable.description,
        "format": fmt,
        "out": str(written),
        "obs_size": exportable.obs_size,
    }
    if check:
        result["max_abs_difference"] = max_difference(exportable, kind, out, check)
        result["inputs_checked"] = check
    click.echo(json.dumps(result))
