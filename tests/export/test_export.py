"""``agent export``: coordination and slicing actors to ONNX and TorchScript, checked
against torch on 1,000 random inputs (onnxruntime within 1e-5)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from agent.cli.main import cli
from agent.model.slicing import UtilityForm
from agent.model.slicing_price import Pricing
from agent.policies.slicing.learned import FORMAT, save_slave
from agent.train.export import (
    export,
    load_exportable,
    max_difference,
    onnx_outputs,
    sample_inputs,
    torch_outputs,
)
from agent.train.slicing_nets import SlaveActor, numpy_weights

COORDINATION = "abilene-in3-rand-cap0-2"


@pytest.fixture(scope="module")
def slave_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(7)
    actor = SlaveActor(32, 6, Pricing(UtilityForm.ALPHA_FAIR, 100.0))
    last = actor.head[-1]
    assert isinstance(last, torch.nn.Linear)
    with torch.no_grad():  # a correction that matters, unlike a fresh head's
        last.weight.mul_(100.0)
    directory = tmp_path_factory.mktemp("slave")
    card = {"format": FORMAT, "hidden": 32, "utility": "alpha-fair", "users": 6, "capacity": 100}
    save_slave(directory, numpy_weights(actor), card)
    return directory


@pytest.mark.parametrize("policy", ["slicing", "coordination"])
def test_onnx_matches_torch_on_1000_inputs(policy: str, slave_dir: Path, tmp_path: Path) -> None:
    exportable = load_exportable(slave_dir if policy == "slicing" else COORDINATION)
    path = export(exportable, "onnx", tmp_path / "actor.onnx")
    inputs = sample_inputs(exportable, 1000, seed=11)
    got, expected = onnx_outputs(path, inputs), torch_outputs(exportable, inputs)
    assert got.shape == expected.shape == (1000, got.shape[1])
    assert np.max(np.abs(got - expected)) <= 1e-5
    assert np.ptp(expected, axis=0).max() > 1e-3  # the inputs move the outputs


@pytest.mark.parametrize("policy", ["slicing", "coordination"])
def test_torchscript_matches_torch(policy: str, slave_dir: Path, tmp_path: Path) -> None:
    exportable = load_exportable(slave_dir if policy == "slicing" else COORDINATION)
    path = export(exportable, "torchscript", tmp_path / "actor.pt")
    assert max_difference(exportable, "torchscript", path, 200) <= 1e-6


def test_command_line(slave_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "slave.onnx"
    args = ["export", str(slave_dir), "--format", "onnx", "--out", str(out), "--check", "1000"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    line = json.loads(result.output)
    assert line["inputs_checked"] == 1000 and line["max_abs_difference"] <= 1e-5
    assert out.is_file() and line["obs_size"] == 37


def test_not_a_policy_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["export", str(tmp_path), "--format", "onnx", "--out", str(tmp_path / "x")]
    )
    assert result.exit_code == 2
    assert result.output.strip() == f"error: {tmp_path / 'card.json'}: policy card not found"


def test_unknown_name_lists_the_shipped_policies(tmp_path: Path) -> None:
    args = ["export", "no-such-policy", "--format", "onnx", "--out", str(tmp_path / "x")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    line = result.output.strip()
    assert line.startswith("error: no policy named 'no-such-policy' (slicing: paper,")
    assert COORDINATION in line and "\n" not in line
