"""The coordination trainers' configuration and run directory, without torch.

Agent YAML: every key of DeepCoord's ``res/config/agent/`` files is accepted (``shuffle_nodes``
must stay false), plus ours: ``batch_size``, ``threshold``, ``eval_every``, ``eval_episodes``,
``policy_noise``/``noise_clip``/``policy_delay`` (TD3), ``sac_alpha`` (SAC), and the warm start
``pretrain_search_iterations``/``pretrain_search_population``/``pretrain_bc_steps`` (0: off),
``pretrain_search_steps``/``pretrain_search_episodes``/``pretrain_search_risk`` (how a searched
schedule is scored) and ``pretrain_prune_rounds``/``pretrain_prune_episodes`` (its
sparsification; see ``schedule_search``),
and the DDPG fine-tuning keys ``actor_learning_rate`` (default: ``learning_rate``) and
``bc_weight`` (0: off; see ``ddpg``). The actor is updated only after its warm-up
(``first_actor_update``); ``budget_warning`` says when a run's steps end before that.

Our keys that belong to one algorithm (``ALGORITHM_KEYS``) are an error with another:
``check_algorithm_keys`` names the file, the key, its line and the algorithm, so that a key
is never silently ignored. DeepCoord's own keys are accepted by every algorithm, as its files
set them all (``rand_theta`` and ``rand_mu``, its Ornstein-Uhlenbeck parameters, are read and
unused: exploration here is Gaussian with ``rand_sigma``; SAC samples its own policy).

The run directory ``OUT/<scenario>_<time>_seed<S>`` holds copies of the inputs and the
resolved configuration from the start of the run; checkpoints, curves and the best policy
join it as the run goes.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from agent.envs.coordination import OBJECTIVES, RewardConfig
from agent.model.errors import InputError
from agent.model.scenario import Scenario
from agent.model.yamlfile import load_yaml, require_mapping

# our keys that only one algorithm reads
ALGORITHM_KEYS = {
    "ddpg": ("actor_learning_rate", "bc_weight"),
    "td3": ("policy_noise", "noise_clip", "policy_delay"),
    "sac": ("sac_alpha",),
}


class DeepCoordConfig(BaseModel):
    """DeepCoord's agent YAML (``res/config/agent/ddpg/*.yaml``) and our additions."""

    model_config = ConfigDict(extra="forbid")
    observation_space: list[Literal["ingress_traffic", "node_load"]] = ["ingress_traffic"]
    episode_steps: int = Field(default=200, ge=1)
    agent_type: Literal["DDPG", "TD3", "SAC"] = "DDPG"
    actor_hidden_layer_nodes: list[int] = [64]
    actor_hidden_layer_activation: Literal["relu", "tanh", "elu"] = "relu"
    critic_hidden_layer_nodes: list[int] = [64]
    critic_hidden_layer_activation: Literal["relu", "tanh", "elu"] = "relu"
    objective: str = "only-flow"
    target_success: float | Literal["auto"] = "auto"
    soft_deadline: float = 20.0
    dropoff: float = 10.0
    flow_weight: float = 1.0
    delay_weight: float = 0.0
    node_weight: float = 0.0
    instance_weight: float = 0.0
    shuffle_nodes: Literal[False] = False
    mem_limit: int = Field(default=10_000, ge=1)
    mem_window_length: Literal[1] = 1
    rand_theta: float = 0.15
    rand_mu: float = 0.0
    rand_sigma: float = Field(default=0.2, ge=0.0)
    nb_steps_warmup_critic: int = Field(default=200, ge=0)
    nb_steps_warmup_actor: int = Field(default=200, ge=0)
    gamma: float = Field(default=0.99, ge=0.0, le=1.0)
    target_model_update: float = Field(default=0.0001, gt=0.0, le=1.0)
    learning_rate: float = Field(default=0.01, gt=0.0)
    learning_rate_decay: float = Field(default=0.001, ge=0.0)
    # ours
    batch_size: int = Field(default=64, ge=1)
    threshold: float = Field(default=0.1, ge=0.0, lt=1.0)
    eval_every: int = Field(default=2_000, ge=1)
    eval_episodes: int = Field(default=3, ge=1)
    policy_noise: float = 0.05
    noise_clip: float = 0.1
    policy_delay: int = Field(default=2, ge=1)
    sac_alpha: float = Field(default=0.01, ge=0.0)
    pretrain_search_iterations: int = Field(default=0, ge=0)
    pretrain_search_population: int = Field(default=24, ge=4)
    pretrain_search_steps: int = Field(default=100, ge=1)
    pretrain_bc_steps: int = Field(default=0, ge=0)
    pretrain_search_episodes: int = Field(default=1, ge=1)  # episodes per schedule scored
    pretrain_search_risk: float = Field(default=0.0, ge=0.0)  # score: mean - risk x std
    pretrain_prune_rounds: int = Field(default=0, ge=0)  # sparsify the searched schedule
    pretrain_prune_episodes: int = Field(default=4, ge=1)  # validation episodes per change
    actor_learning_rate: float | None = Field(default=None, gt=0.0)  # None: learning_rate
    bc_weight: float = Field(default=0.0, ge=0.0)  # DDPG: TD3+BC pull to the imitation actor
    _source: str | None = PrivateAttr(default=None)  # the YAML it was read from
    _lines: dict[str, int] = PrivateAttr(default_factory=dict)  # key -> line in the YAML

    def located(self, source: str | None, lines: dict[str, int]) -> DeepCoordConfig:
        """This configuration, remembering the file (and lines) it came from."""
        self._source, self._lines = source, dict(lines)
        return self

    def reward(self) -> RewardConfig:
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective {self.objective!r} is not one of {', '.join(OBJECTIVES)}")
        target = 0.9 if self.target_success == "auto" else float(self.target_success)
        return RewardConfig(
            self.objective,  # type: ignore[arg-type]
            target,
            self.soft_deadline,
            self.flow_weight,
            self.delay_weight,
            self.node_weight + self.instance_weight,
            self.dropoff,
        )


def load_deepcoord_config(path: str | Path, algorithm: str | None = None) -> DeepCoordConfig:
    """The agent YAML at ``path``, checked for ``algorithm`` (default: its ``agent_type``);
    InputError naming the file, the key and its line."""
    doc = load_yaml(path, "agent YAML")
    data = {} if doc.data is None else require_mapping(doc, "an agent YAML")
    config = doc.validate(DeepCoordConfig, data)
    lines = {str(key): doc.line_of([str(key)]) or 0 for key in data}
    config.located(str(path), lines)
    try:
        config.reward()
    except ValueError as exc:
        raise InputError(path, "objective", str(exc), lines.get("objective")) from None
    check_algorithm_keys(config, algorithm or config.agent_type.lower())
    return config


def check_algorithm_keys(config: DeepCoordConfig, algorithm: str) -> None:
    """InputError for the first key set in the configuration that ``algorithm`` does not
    read (``ALGORITHM_KEYS``): it names the file, the key, its line and the algorithm."""
    for owner, keys in ALGORITHM_KEYS.items():
        if owner == algorithm:
            continue
        for key in keys:
            if key in config.model_fields_set:
                problem = (
                    f"not used by {algorithm.upper()} (a {owner.upper()} key): remove it, "
                    f"or train with --algorithm {owner}"
                )
                raise InputError(config._source, key, problem, config._lines.get(key) or None)


def resolved_config(config: DeepCoordConfig, steps: int, seed: int) -> dict[str, Any]:
    """What ``config.json`` records: the whole configuration, the keys the YAML set (what a
    resumed run validates again) and the run's steps and seed."""
    return {
        "agent": config.model_dump(),
        "agent_keys": sorted(config.model_fields_set),
        "steps": steps,
        "seed": seed,
    }


def config_of_run(run: Path) -> tuple[DeepCoordConfig, dict[str, Any]]:
    """The configuration a run directory's ``config.json`` records, and the whole record;
    InputError naming the file when it is missing or not a run's."""
    path = run / "config.json"
    try:
        record = json.loads(path.read_text())
        agent = record["agent"]
        keys = record.get("agent_keys", list(agent))
        config = DeepCoordConfig.model_validate({k: agent[k] for k in keys})
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(path, "", f"not a training run's configuration ({exc})") from None
    return config.located(str(path), {}), record


def file_hash(path: Path) -> str:
    """The file's SHA-256, hex."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def scenario_inputs(scenario: Scenario) -> dict[str, Path]:
    """Every file the scenario was read from, by role (scenario, network, service,
    traffic, trace)."""
    roles = {
        "scenario": scenario.source,
        "network": scenario.network.source,
        "service": scenario.services.source,
        "traffic": scenario.traffic.source,
        "trace": scenario.traffic.trace_source,
    }
    return {role: Path(path) for role, path in roles.items() if path}


def make_run_directory(
    out: Path, scenario: str, seed: int, inputs: dict[str, Path], resolved: dict[str, Any]
) -> Path:
    """``OUT/<scenario>_<time>_seed<S>`` with ``inputs/`` (a copy of each input file, named
    by its role), ``checkpoints/`` and ``config.json`` (``resolved`` and each input's
    SHA-256)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run = out / f"{scenario}_{stamp}_seed{seed}"
    (run / "inputs").mkdir(parents=True, exist_ok=True)
    (run / "checkpoints").mkdir(exist_ok=True)
    hashes = {}
    for role, path in inputs.items():
        if path.is_file():
            shutil.copy2(path, run / "inputs" / f"{role}-{path.name}")
            hashes[role] = {"file": f"inputs/{role}-{path.name}", "sha256": file_hash(path)}
    record = resolved | {"inputs": hashes}
    (run / "config.json").write_text(json.dumps(record, indent=2) + "\n")
    return run


def warm_start_enabled(config: DeepCoordConfig) -> bool:
    return config.pretrain_search_iterations > 0 and config.pretrain_bc_steps > 0


def first_actor_update(config: DeepCoordConfig, algorithm: str, start: int = 0) -> int:
    """The first training step at which the actor is updated (TD3: at the earliest): after
    both warm-ups and once the replay buffer, empty at ``start``, holds one batch."""
    first = max(config.nb_steps_warmup_critic, start + config.batch_size - 1) + 1
    if algorithm == "td3":
        first += config.policy_delay - 1  # the actor waits for every policy_delay-th update
    return max(first, config.nb_steps_warmup_actor + 1)


def budget_warning(
    config: DeepCoordConfig, algorithm: str, steps: int, start: int = 0
) -> str | None:
    """A sentence when ``steps`` ends before the actor's first update: the saved policy is
    then the warm start (or the untrained initial actor) alone."""
    first = first_actor_update(config, algorithm, start)
    if steps >= first:
        return None
    alone = "the warm start alone" if warm_start_enabled(config) else "the untrained actor"
    return (
        f"{steps} steps end before the actor's first update at step {first} "
        f"(nb_steps_warmup_actor {config.nb_steps_warmup_actor}, nb_steps_warmup_critic "
        f"{config.nb_steps_warmup_critic}, batch_size {config.batch_size}): the policy saved "
        f"is {alone}"
    )
