"""Each trainer reads its own arguments; a key of another algorithm is a located error."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from agent.cli.main import cli
from agent.model.errors import InputError
from agent.train import ddpg, sac, td3
from agent.train.coordination_common import TrainSettings
from agent.train.coordination_config import (
    ALGORITHM_KEYS,
    DeepCoordConfig,
    check_algorithm_keys,
    load_deepcoord_config,
)
from tests.conftest import TOPOLOGIES
from tests.envs.test_coordination import abilene
from tests.train.test_coordination_trainers import ANCHOR

SHIPPED_YAML = TOPOLOGIES / "policies" / "coordination" / "agent-ddpg-switch.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("agent_type", "key", "line"),
    [("TD3", "bc_weight: 0.5", 3), ("SAC", "actor_learning_rate: 0.001", 3)],
)
def test_a_ddpg_key_under_another_algorithm_names_file_key_line_and_algorithm(
    tmp_path: Path, agent_type: str, key: str, line: int
) -> None:
    path = write(tmp_path, f"agent_type: {agent_type}\nbatch_size: 8\n{key}\n")
    with pytest.raises(InputError) as caught:
        load_deepcoord_config(path)
    text = caught.value.one_line()
    name = key.split(":")[0]
    assert text.startswith(f"{path}:{line}: {name}: not used by {agent_type}")
    assert "a DDPG key" in text and "\n" not in text


@pytest.mark.parametrize(
    ("key", "owner", "others"),
    [("policy_delay: 3", "TD3", ["ddpg", "sac"]), ("sac_alpha: 0.1", "SAC", ["ddpg", "td3"])],
)
def test_td3_and_sac_keys_are_theirs_alone(
    tmp_path: Path, key: str, owner: str, others: list[str]
) -> None:
    path = write(tmp_path, f"agent_type: {owner}\n{key}\n")
    config = load_deepcoord_config(path)  # fine for its own algorithm
    for algorithm in others:
        with pytest.raises(InputError, match=f"not used by {algorithm.upper()}"):
            check_algorithm_keys(config, algorithm)
        with pytest.raises(InputError, match=f"{path}:2: {key.split(':')[0]}"):
            load_deepcoord_config(path, algorithm)


def test_the_trainers_refuse_a_foreign_key_before_training() -> None:
    config = DeepCoordConfig.model_validate({"bc_weight": 1.0, "episode_steps": 10})
    for trainer, name in ((td3.train, "TD3"), (sac.train, "SAC")):
        with pytest.raises(InputError, match=f"bc_weight: not used by {name}"):
            trainer(TrainSettings(abilene(1), config, 5))
    assert ddpg.DDPGArgs.of(config).bc_weight == 1.0


def test_each_trainer_has_only_its_own_arguments() -> None:
    config = DeepCoordConfig()
    assert not hasattr(td3.TD3Args.of(config), "bc_weight")
    assert not hasattr(sac.SACArgs.of(config), "actor_lr")
    assert not hasattr(ddpg.DDPGArgs.of(config), "policy_delay")
    assert set(ALGORITHM_KEYS) == {"ddpg", "td3", "sac"}


def test_deepcoord_keys_are_accepted_by_every_algorithm() -> None:
    files = sorted(ANCHOR.glob("*.yaml")) if ANCHOR.is_dir() else []
    for path in [*files, SHIPPED_YAML.with_name("agent-ddpg.yaml")]:
        for algorithm in ALGORITHM_KEYS:
            load_deepcoord_config(path, algorithm)


def test_the_command_refuses_the_shipped_yaml_for_td3(tmp_path: Path) -> None:
    args = ["train", "coordination", str(TOPOLOGIES / "scenarios" / "triangle.yaml")]
    args += ["--agent", str(SHIPPED_YAML), "--algorithm", "td3", "--out", str(tmp_path)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {SHIPPED_YAML}:")
    assert "actor_learning_rate: not used by TD3 (a DDPG key)" in line
    assert not tmp_path.exists() or not any(tmp_path.iterdir())  # refused before any run
