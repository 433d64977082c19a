"""The typed policy cards: the one type training builds, saves and the loader reads back;
the shipped cards load unchanged and save byte for byte; unknown keys are refused in every
section, with the file, the key path and the line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from agent.policies.coordination.card import PolicyCard, check_compatible, load_card, save_card
from agent.policies.coordination.locate import SHIPPED
from agent.policies.errors import PolicyFileError, PolicyMismatchError
from agent.policies.recovery import card as deeppr_card
from agent.policies.recovery.networks import NodeQNet, PaperQNet, load_network, save_network
from agent.train.coordination_common import (
    DeepCoordConfig,
    TrainSettings,
    make_actor,
    make_card,
    make_env,
)
from agent.train.rollout import policy_context
from tests.envs.test_coordination import abilene

SHIPPED_CARDS = sorted(SHIPPED.glob("*/card.json"))
DEEPPR_CARD = deeppr_card.SHIPPED / deeppr_card.CARD


def test_every_shipped_policy_is_here() -> None:
    assert (
        len(SHIPPED_CARDS) == 8 and DEEPPR_CARD.is_file()
    )  # Abilene 1-5, BT Europe 2, 4, ChinaNet 2


@pytest.mark.parametrize("path", SHIPPED_CARDS, ids=lambda p: p.parent.name)
def test_shipped_coordination_cards_load_typed_and_save_unchanged(
    path: Path, tmp_path: Path
) -> None:
    card = PolicyCard.load(path)
    assert card.network.name == path.parent.name and card.schedule == "random"
    assert card.training.metrics["eval_success_ratio"] > 0.5
    assert card.training.phase_s.keys() >= {"search", "train"}
    card.save(tmp_path / "card.json")
    assert (tmp_path / "card.json").read_text() == path.read_text()
    assert load_card(tmp_path / "card.json") == card


def test_shipped_deeppr_card_loads_typed_and_saves_unchanged(tmp_path: Path) -> None:
    card = deeppr_card.DeepPRCard.load(DEEPPR_CARD)
    assert card.architecture == "node" and card.hidden == 64 and card.double_dqn is True
    assert isinstance(card.evaluation["gnp:23 adversarial"], dict)
    card.save(tmp_path / "card.json")
    assert (tmp_path / "card.json").read_text() == DEEPPR_CARD.read_text()


def shipped_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SHIPPED_CARDS[0].read_text())
    return data


@pytest.mark.parametrize(
    "section", [[], ["network"], ["layout"], ["actor"], ["scenario"], ["training"]]
)
def test_unknown_keys_are_refused_in_every_section(tmp_path: Path, section: list[str]) -> None:
    data = shipped_data()
    target = data
    for key in section:
        target = target[key]
    target["surprise"] = 1
    path = tmp_path / "card.json"
    path.write_text(json.dumps(data, indent=2))
    where = ".".join([*section, "surprise"])
    with pytest.raises(PolicyFileError, match=rf"card\.json:\d+: {where}: unknown key"):
        load_card(path)


def test_a_mistyped_training_record_names_its_key(tmp_path: Path) -> None:
    data = shipped_data()
    data["training"]["phase_s"]["train"] = "long"
    path = tmp_path / "card.json"
    path.write_text(json.dumps(data, indent=2))
    with pytest.raises(PolicyFileError, match=r"card\.json:\d+: training\.phase_s\.train: "):
        load_card(path)


def test_an_older_card_without_schedule_or_training_still_loads(tmp_path: Path) -> None:
    data = shipped_data()
    del data["schedule"], data["training"], data["scenario"]
    path = tmp_path / "card.json"
    path.write_text(json.dumps(data, indent=2) + "\n")
    card = load_card(path)
    assert card.schedule is None and card.training.steps is None and card.scenario is None
    save_card(card, tmp_path / "again.json")  # what was not there is not added
    assert (tmp_path / "again.json").read_text() == path.read_text()


def test_training_builds_the_card_the_loader_reads_back(tmp_path: Path) -> None:
    scenario = abilene(2)
    config = DeepCoordConfig()
    env = make_env(scenario, config, 0)
    extra = {"steps": 10, "wall_s": 1.5, "metrics": {"eval_success_ratio": 0.5}}
    card = make_card(env, TrainSettings(scenario, config, steps=10, seed=7), "td3", extra)
    assert isinstance(card, PolicyCard) and card.training.seed == 7
    from agent.policies.coordination.policy import load_policy, save_policy

    torch.manual_seed(0)
    save_policy(tmp_path, make_actor(env, config), card)
    assert load_card(tmp_path / "card.json") == card
    assert load_policy(tmp_path, policy_context(scenario, 0)).card == card
    with pytest.raises(ValueError, match=r"training\.surprise"):
        make_card(env, TrainSettings(scenario, config, steps=10, seed=7), "td3", {"surprise": 1})


def test_compatibility_is_checked_on_the_typed_card() -> None:
    card = load_card(SHIPPED_CARDS[1])  # abilene-in2
    check_compatible(card, policy_context(abilene(2), 0))
    with pytest.raises(PolicyMismatchError, match=r"'abilene-in2-rand-cap0-2'.*ingress differ"):
        check_compatible(card, policy_context(abilene(3), 0))


def test_deeppr_training_records_become_typed_cards(tmp_path: Path) -> None:
    record = {"variant": "node", "episodes": 3, "seed": 2, "trained_on": ["gnp:10-12"]}
    save_network(NodeQNet(16, 8), tmp_path, record)
    net, card = load_network(tmp_path)
    assert isinstance(net, NodeQNet) and card.episodes == 3 and card.trained_on == ["gnp:10-12"]
    assert card.features == 16 and card.hidden == 8
    saved = json.loads((tmp_path / "card.json").read_text())
    assert saved == {"format": "deeppr-recovery/1", "architecture": "node", **record} | {
        "features": 16,
        "hidden": 8,
    }


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"surprise": 1}, r"DeepPR card: surprise: Extra inputs"),
        ({"episodes": "3"}, r"DeepPR card: episodes: Input should be a valid integer"),
        ({"hidden": 9}, r"DeepPR card: describes .*'hidden': 9"),
    ],
)
def test_deeppr_cards_that_would_not_load_are_not_written(
    tmp_path: Path, record: dict[str, Any], message: str
) -> None:
    net = PaperQNet(4, 8)
    if "hidden" in record:  # a card made for another network
        card: Any = deeppr_card.make_card({**net.config(), **record}, {})
    else:
        card = record
    with pytest.raises(ValueError, match=message):
        save_network(net, tmp_path / "out", card)
    assert not (tmp_path / "out").exists()
