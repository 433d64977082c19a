"""Exporting trained actors for serving elsewhere: ONNX (run by onnxruntime) or TorchScript.

Two kinds of policy directory are understood, told apart by their card:

- a coordination policy (``card.json`` of format ``sdn-agent/coordination-policy``): the
  actor maps an observation (``layout.obs_size``) to schedule weights;
- a slicing slave (``deepslicing-slave/2``): the actor maps one slice's observation,
  padded to ``users`` users (``agent.model.slicing_observation``), to its allocation per
  user as fractions of the capacity. The padding and the capacity are fixed in the export:
  the card's (recorded at training), or ``users`` / ``capacity`` given here.

The input is named ``observation`` and the output ``action``; the batch dimension is free.
Weights are read as tensors only (safetensors); nothing is unpickled.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import nn

from agent.model.slicing import UtilityForm
from agent.model.slicing_observation import obs_size
from agent.model.slicing_price import Pricing
from agent.policies.errors import PolicyError, PolicyFileError
from agent.policies.slicing.learned import load_slave
from agent.train.slicing_nets import SlaveActor

Format = Literal["onnx", "torchscript"]
FORMATS: tuple[Format, ...] = ("onnx", "torchscript")
OPSET = 17


@dataclass(frozen=True)
class Exportable:
    """An actor ready to export: the module, its input width and what it is."""

    kind: Literal["coordination", "slicing"]
    module: nn.Module
    obs_size: int
    description: str


def _card_format(directory: Path) -> str:
    card = directory / "card.json"
    try:
        data = json.loads(card.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PolicyFileError(card, "", "policy card not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PolicyFileError(card, "", f"cannot read the policy card: {exc}") from None
    if not isinstance(data, dict):
        raise PolicyFileError(card, "", "a policy card must be a JSON object", 1)
    return str(data.get("format", ""))


def policy_path(policy: str | Path) -> Path:
    """The directory ``policy`` names: a directory (or a file in it), a coordination
    training run (its ``best/``), a shipped slicing slave, a shipped coordination policy."""
    from agent.policies.coordination.locate import RUN_BEST, find_policy, shipped_names
    from agent.policies.slicing.learned import SHIPPED

    path = Path(policy)
    if path.is_file():
        return path.parent
    if path.is_dir():
        return path / RUN_BEST if (path / RUN_BEST / "card.json").is_file() else path
    if (SHIPPED / str(policy) / "card.json").is_file():
        return SHIPPED / str(policy)
    if "/" in str(policy) or str(policy) in shipped_names():
        return find_policy(str(policy))
    slicing = sorted(p.name for p in SHIPPED.iterdir() if (p / "card.json").is_file())
    known = f"slicing: {', '.join(slicing)}; coordination: {', '.join(shipped_names())}"
    raise PolicyFileError(None, "", f"no policy named {str(policy)!r} ({known})")


def load_exportable(
    policy: str | Path, users: int | None = None, capacity: float | None = None
) -> Exportable:
    """The actor of the policy ``policy`` names (card and weights checked first)."""
    directory = policy_path(policy)
    fmt = _card_format(directory)
    if fmt.startswith("deepslicing-slave"):
        return _slicing(directory, users, capacity)
    if fmt == "sdn-agent/coordination-policy":
        from agent.policies.coordination.policy import load_policy

        loaded = load_policy(directory)
        size = loaded.card.layout.obs_size
        return Exportable("coordination", loaded.actor.eval(), size, f"coordination {loaded.name}")
    raise PolicyFileError(directory / "card.json", "format", f"cannot export a {fmt!r} policy")


def _slicing(directory: Path, users: int | None, capacity: float | None) -> Exportable:
    slave = load_slave(directory)
    card = slave.card
    users = users or card.get("users")
    capacity = capacity or card.get("capacity")
    if not isinstance(users, int) or users < 1:
        raise PolicyError(f"{directory}: the card names no user count: give --users")
    if not isinstance(capacity, int | float) or capacity <= 0:
        raise PolicyError(f"{directory}: the card names no capacity: give --capacity")
    pricing = Pricing(UtilityForm(card["utility"]), float(capacity), slave.guess_steps)
    actor = SlaveActor(int(card["hidden"]), users, pricing, band=True)
    assert slave.weights is not None
    state = {k: torch.from_numpy(np.asarray(v, np.float32)) for k, v in slave.weights.items()}
    actor.load_state_dict(state)
    name = f"slicing slave ({card.get('scenario', '')}, {users} users, capacity {capacity:g})"
    return Exportable("slicing", actor.eval(), obs_size(users), name)


def sample_inputs(exportable: Exportable, count: int, seed: int = 0) -> np.ndarray:
    """``count`` random observations the actor is meant for (float32)."""
    rng = np.random.default_rng(seed)
    if exportable.kind == "coordination":
        return rng.uniform(0.0, 1.0, (count, exportable.obs_size)).astype(np.float32)
    users = (exportable.obs_size - 1) // 6
    obs = np.zeros((count, exportable.obs_size), np.float32)
    real = rng.integers(1, users + 1, count)
    mask = (np.arange(users)[None, :] < real[:, None]).astype(np.float32)
    blocks = [
        rng.uniform(0.0, 0.5, (count, users)) * (rng.random((count, 1)) < 0.2),  # deficit
        rng.uniform(0.0, 1.0, (count, users)),  # demand
        rng.uniform(0.0, 0.3, (count, users)) / users,  # floor
        rng.uniform(0.1, 0.9, (count, users)),  # exponent
        rng.uniform(0.01, 0.81, (count, users)),  # weight
    ]
    for i, values in enumerate(blocks):
        obs[:, i * users : (i + 1) * users] = values * mask
    obs[:, 5 * users : 6 * users] = mask
    obs[:, -1] = rng.uniform(0.0, 1.0, count)
    return obs


def export(exportable: Exportable, fmt: Format, out: Path) -> Path:
    """Write the actor to ``out`` in ``fmt``; returns ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    example = torch.from_numpy(sample_inputs(exportable, 2))
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the tracers' notes on Python control flow
        if fmt == "onnx":
            torch.onnx.export(
                exportable.module,
                (example,),
                str(out),
                dynamo=False,
                input_names=["observation"],
                output_names=["action"],
                dynamic_axes={"observation": {0: "batch"}, "action": {0: "batch"}},
                opset_version=OPSET,
            )
        else:
            traced = torch.jit.trace(exportable.module, example)  # type: ignore[no-untyped-call]
            traced.save(str(out))
    return out


def torch_outputs(exportable: Exportable, inputs: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        result: np.ndarray = exportable.module(torch.from_numpy(inputs)).numpy()
    return result


def onnx_outputs(path: Path, inputs: np.ndarray) -> np.ndarray:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    result: np.ndarray = session.run(["action"], {"observation": inputs})[0]
    return result


def torchscript_outputs(path: Path, inputs: np.ndarray) -> np.ndarray:
    """The TorchScript file's outputs (a file this module has just written: loading one
    unpickles its constants, so it is never done on a file from elsewhere)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript's own notice
        module = torch.jit.load(str(path))  # type: ignore[no-untyped-call]
    with torch.no_grad():
        result: np.ndarray = module(torch.from_numpy(inputs)).numpy()
    return result


def max_difference(exportable: Exportable, fmt: Format, path: Path, count: int = 1000) -> float:
    """Largest absolute difference between the export and the torch actor on ``count``
    random observations."""
    inputs = sample_inputs(exportable, count, seed=1)
    run = onnx_outputs if fmt == "onnx" else torchscript_outputs
    return float(np.max(np.abs(run(path, inputs) - torch_outputs(exportable, inputs))))
