"""Policy files: cards checked strictly, weights headers checked before any tensor is
allocated, the registry validating names without torch, weights written like the card."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from agent.policies import registry
from agent.policies.cards import check_card_file
from agent.policies.coordination import card as coordination_card
from agent.policies.coordination import policy as coordination_policy
from agent.policies.coordination.locate import SHIPPED
from agent.policies.coordination.network import Actor
from agent.policies.errors import PolicyFileError, PolicyMismatchError, UnknownPolicyError
from agent.policies.recovery import card as recovery_card
from agent.policies.recovery.deeppr import SHIPPED as DEEPPR
from agent.policies.recovery.networks import NodeQNet, PaperQNet, load_network, save_network
from agent.train.rollout import policy_context
from tests.envs.test_coordination import abilene

NAME = "abilene-in2-rand-cap0-2"


def shapes(module: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def copy_policy(tmp_path: Path, source: Path = SHIPPED / NAME) -> Path:
    shutil.copytree(source, tmp_path / "policy")
    return tmp_path / "policy"


def rewrite(path: Path, **changes: Any) -> None:
    card = json.loads(path.read_text())
    card.update(changes)
    path.write_text(json.dumps(card, indent=2))


@pytest.fixture
def umask() -> Iterator[None]:
    before = os.umask(0o022)
    yield
    os.umask(before)


@pytest.mark.parametrize(("hidden", "observe_load"), [([64], False), ([32, 16], True), ([], False)])
def test_expected_tensors_are_the_actors(hidden: list[int], observe_load: bool) -> None:
    card = json.loads((SHIPPED / NAME / "card.json").read_text())
    card["actor"]["hidden"] = hidden
    card["layout"]["observe_load"] = observe_load
    card["layout"]["observation"] = ["ingress_traffic", "node_load"][: 1 + observe_load]
    card["layout"]["obs_size"] = 22 if observe_load else 11
    parsed = coordination_card.PolicyCard.model_validate(card)
    actor = Actor(card["layout"]["obs_size"], 11, 3, hidden)
    assert coordination_card.expected_tensors(parsed) == shapes(actor)


def test_expected_tensors_are_the_q_networks() -> None:
    node = recovery_card.DeepPRCard(format="deeppr-recovery/1", features=16, hidden=8)
    assert recovery_card.expected_tensors(node) == shapes(NodeQNet(16, 8))
    paper = recovery_card.DeepPRCard(
        format="deeppr-recovery/1", architecture="paper", hidden=9, n=5
    )
    assert recovery_card.expected_tensors(paper) == shapes(PaperQNet(5, 9))


@pytest.mark.usefixtures("umask")
def test_weights_are_written_with_the_cards_permissions(tmp_path: Path) -> None:
    actor = Actor(11, 11, 3, [8])
    card = coordination_card.load_card(SHIPPED / NAME / "card.json")
    coordination_policy.save_policy(tmp_path / "coordination", actor, card)
    save_network(NodeQNet(16, 8), tmp_path / "deeppr", {"seed": 0})
    for directory, weights in (("coordination", "actor"), ("deeppr", "model")):
        mode = (tmp_path / directory / f"{weights}.safetensors").stat().st_mode & 0o777
        assert mode == 0o644, (directory, oct(mode))
        assert (tmp_path / directory / "card.json").stat().st_mode & 0o777 == 0o644


def test_a_huge_card_is_refused_before_anything_is_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = copy_policy(tmp_path)
    card = json.loads((directory / "card.json").read_text())
    card["actor"]["hidden"] = [400_000, 100_000]
    (directory / "card.json").write_text(json.dumps(card))

    def never(*_args: object) -> None:
        raise AssertionError("the actor was built")

    monkeypatch.setattr(coordination_policy, "build_actor", never)
    with pytest.raises(PolicyFileError, match=r"actor\.hidden: the actor would have [\d,]+ param"):
        coordination_policy.load_policy(directory)


def test_a_card_whose_facts_were_edited_is_refused(tmp_path: Path) -> None:
    directory = copy_policy(tmp_path)
    card = json.loads((directory / "card.json").read_text())
    card["network"]["caps"][0] = 9.0
    (directory / "card.json").write_text(json.dumps(card, indent=2))
    with pytest.raises(PolicyFileError, match=r"card\.json:\d+: network\.fingerprint: does not"):
        coordination_policy.load_policy(directory)


def test_registry_names_paths_and_errors(tmp_path: Path) -> None:
    assert registry.check_policy("greedy") == "baseline greedy"
    assert registry.known_policies()[: len(registry.BASELINES)] == list(registry.BASELINES)
    described = registry.check_policy(NAME, policy_context(abilene(2), 0))
    assert described.startswith(f"coordination policy '{NAME}'")
    with pytest.raises(UnknownPolicyError, match=r"unknown policy 'oracle' \(known: shortest-path"):
        registry.check_policy("oracle")
    with pytest.raises(PolicyMismatchError, match="ingress"):
        registry.check_policy(NAME, policy_context(abilene(3), 0))
    with pytest.raises(PolicyFileError, match="policy directory not found"):
        registry.check_policy(str(tmp_path / "gone"))
    run = tmp_path / "run"
    shutil.copytree(SHIPPED / NAME, run / "best")
    assert str(run / "best") in registry.check_policy(str(run))
    policy = registry.make_policy(str(run), policy_context(abilene(2), 0))
    assert policy.name == NAME


def test_registry_checks_without_torch() -> None:
    code = (
        "import sys\n"
        "from agent.policies.registry import check_policy, known_policies, policy_factory\n"
        f"check_policy({NAME!r}); policy_factory({NAME!r}); known_policies()\n"
        "assert 'torch' not in sys.modules and 'safetensors' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_check_card_file_summaries_and_errors(tmp_path: Path) -> None:
    assert "24,363 parameters" in check_card_file(SHIPPED / NAME / "card.json")
    assert check_card_file(SHIPPED / NAME).startswith(f"coordination policy '{NAME}'")
    assert check_card_file(DEEPPR / "card.json").startswith("DeepPR recovery policy (node")
    other = tmp_path / "other.json"
    other.write_text('{\n  "format": "something/else"\n}\n')
    with pytest.raises(PolicyFileError, match=r"other\.json:2: format: 'something/else': not a"):
        check_card_file(other)
    with pytest.raises(PolicyFileError, match="file not found"):
        check_card_file(tmp_path / "missing.json")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"architecture": "graph"}, r"architecture: Input should be 'node' or 'paper'"),
        ({"features": 12}, r"features: is 12, this agent computes 16"),
        ({"hidden": "64"}, r"hidden: Input should be a valid integer"),
        ({"hidden": 100_000}, r"hidden: the network would have [\d,]+ parameters"),
        ({"architecture": "paper", "n": 5}, r"model\.safetensors: tensor\(s\) layers\.0\.weight"),
    ],
)
def test_deeppr_cards_and_weights_are_checked(
    tmp_path: Path, changes: dict[str, Any], message: str
) -> None:
    directory = copy_policy(tmp_path, DEEPPR)
    rewrite(directory / "card.json", **changes)
    with pytest.raises(PolicyFileError, match=message):
        load_network(directory)


def test_deeppr_round_trip_still_loads(tmp_path: Path) -> None:
    net = PaperQNet(6, 10)
    save_network(net, tmp_path, {"seed": 1})
    loaded, card = load_network(tmp_path)
    assert isinstance(loaded, PaperQNet) and card.n == 6 and card.seed == 1
    for key, value in net.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)
