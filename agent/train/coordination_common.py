"""What the coordination trainers (DDPG, TD3, SAC) share: the agent configuration (DeepCoord's
agent YAML plus our keys), the run directory, curves, checkpoints, evaluation, policy files,
and the optional imitation warm start.

Agent YAML: every key of DeepCoord's ``res/config/agent/`` files is accepted (``shuffle_nodes``
must stay false), plus ours: ``batch_size``, ``threshold``, ``eval_every``, ``eval_episodes``,
``policy_noise``/``noise_clip``/``policy_delay`` (TD3), ``sac_alpha`` (SAC), and the warm start
``pretrain_search_iterations``/``pretrain_search_population``/``pretrain_bc_steps`` (0: off),
and the DDPG fine-tuning keys ``actor_learning_rate`` (default: ``learning_rate``) and
``bc_weight`` (0: off; see ``ddpg``).
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from safetensors.torch import save_file

from agent.envs.coordination import OBJECTIVES, CoordinationEnv, RewardConfig
from agent.model.deepcoord import RATE_UNIT_MS
from agent.model.errors import InputError
from agent.model.scenario import Scenario
from agent.policies.coordination.network import Actor
from agent.policies.coordination.policy import (
    CARD_FILE,
    CARD_FORMAT,
    CARD_VERSION,
    WEIGHTS_FILE,
    fingerprint,
    network_facts,
)
from agent.train.schedule_search import SearchArgs, search_schedule, softmax

Progress = Callable[[int, float, float], None]  # step, last episode reward, steps per second


class AgentConfig(BaseModel):
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
    actor_learning_rate: float | None = Field(default=None, gt=0.0)  # None: learning_rate
    bc_weight: float = Field(default=0.0, ge=0.0)  # DDPG: TD3+BC pull to the imitation actor

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


def load_agent_config(path: str | Path) -> AgentConfig:
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(path, "", f"cannot read agent YAML: {exc}") from None
    try:
        config = AgentConfig.model_validate(data)
        config.reward()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(path, where, first["msg"]) from None
    except ValueError as exc:
        raise InputError(path, "objective", str(exc)) from None
    return config


def make_env(scenario: Scenario, config: AgentConfig, seed: int) -> CoordinationEnv:
    return CoordinationEnv(
        scenario,
        config.reward(),
        config.episode_steps,
        config.threshold,
        observe_load="node_load" in config.observation_space,
        seed=seed,
    )


def make_actor(env: CoordinationEnv, config: AgentConfig) -> Actor:
    layout = env.layout
    return Actor(
        layout.obs_size,
        layout.n_nodes,
        len(layout.rows),
        list(config.actor_hidden_layer_nodes),
        config.actor_hidden_layer_activation,
    )


@dataclass
class TrainSettings:
    """One training run: what the CLI (or a test) hands a trainer."""

    scenario: Scenario
    config: AgentConfig
    steps: int
    seed: int = 0
    out: Path | None = None  # run directory; None: nothing written
    resume: Path | None = None  # checkpoint file
    inputs: dict[str, Path] = field(default_factory=dict)  # role -> file, copied and hashed
    progress: Progress | None = None
    log: Callable[[str], None] | None = None
    threads: int = 1  # torch threads: tiny networks run fastest on one
    created: float = field(default_factory=time.perf_counter)  # for the total wall time


@dataclass
class TrainResult:
    actor: Actor
    card: dict[str, Any]
    best_success: float
    steps: int
    wall_s: float
    steps_per_s: float
    curve: list[dict[str, float]]


# ------------------------------------------------------------------ evaluation
def evaluate_actor(env: CoordinationEnv, actor: Actor, episodes: int, seed: int) -> float:
    """Success ratio (succeeded / generated) of the deterministic actor over ``episodes``."""
    successful = generated = 0
    for k in range(episodes):
        obs, _ = env.reset(seed=seed + k)
        for _ in range(env.episode_steps):
            obs, _, _, _, _ = env.step(act(actor, obs))
        successful += env.sim.successful
        generated += env.sim.generated
    return successful / generated if generated else 0.0


def act(actor: Actor, obs: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        out: np.ndarray = actor(torch.from_numpy(obs)[None])[0].numpy()
    return out


# ------------------------------------------------------------------ warm start
def warm_start(env: CoordinationEnv, actor: Actor, settings: TrainSettings) -> float | None:
    """Behaviour cloning of a searched static schedule (see ``schedule_search``); returns the
    teacher's success ratio, or None when the configuration turns it off."""
    cfg = settings.config
    if cfg.pretrain_search_iterations <= 0 or cfg.pretrain_bc_steps <= 0:
        return None
    args = SearchArgs(
        iterations=cfg.pretrain_search_iterations,
        population=cfg.pretrain_search_population,
        steps=cfg.pretrain_search_steps,
        seed=settings.seed,
    )
    logits, teacher_score = search_schedule(env, args, settings.log)
    behaviour_clone(env, actor, softmax(logits), cfg.pretrain_bc_steps, settings.seed)
    return teacher_score


def behaviour_clone(
    env: CoordinationEnv, actor: Actor, target: np.ndarray, steps: int, seed: int
) -> None:
    """Fit the actor's softmax rows to ``target`` (N, R, N) by cross-entropy, on observations
    from an episode under the target schedule (plus noise)."""
    obs_list, (obs, _) = [], env.reset(seed=seed + 50_000)
    flat = target.reshape(-1).astype(np.float32)
    for _ in range(env.episode_steps):
        obs_list.append(obs)
        obs, _, _, _, _ = env.step(flat)
    observations = torch.from_numpy(np.stack(obs_list))
    goal = torch.from_numpy(target.astype(np.float32)).reshape(1, -1, target.shape[-1])
    optimiser = torch.optim.Adam(actor.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(0, len(observations), (64,), generator=generator)
        batch = observations[idx] * (1 + 0.1 * torch.randn(64, 1, generator=generator))
        log_p = torch.log_softmax(actor.logits(batch), dim=-1)
        loss = -(goal * log_p).sum(-1).mean()
        optimiser.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimiser.step()


# ------------------------------------------------------------------ files
def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def make_card(
    env: CoordinationEnv, settings: TrainSettings, algorithm: str, extra: dict[str, Any]
) -> dict[str, Any]:
    scenario, layout, cfg = settings.scenario, env.layout, settings.config
    facts = network_facts(scenario.network)
    net_name = Path(scenario.network.source).stem if scenario.network.source else scenario.name
    return {
        "format": CARD_FORMAT,
        "version": CARD_VERSION,
        "name": net_name,
        "algorithm": algorithm,
        "network": {"name": net_name, **facts, "fingerprint": fingerprint(facts)},
        "layout": {
            "observation": ["ingress_traffic", *(["node_load"] if layout.observe_load else [])],
            "obs_size": layout.obs_size,
            "observe_load": layout.observe_load,
            "rate_unit_ms": RATE_UNIT_MS,
            "rows": [list(row) for row in layout.rows],
            "action_shape": list(layout.action_shape),
            "action_order": "node, (chain, sf) row, destination node; nodes in network order",
        },
        "actor": {
            "hidden": list(cfg.actor_hidden_layer_nodes),
            "activation": cfg.actor_hidden_layer_activation,
        },
        "threshold": cfg.threshold,
        "scenario": {
            "name": scenario.name,
            "inputs": {role: file_hash(p) for role, p in settings.inputs.items() if p.is_file()},
        },
        "training": {"seed": settings.seed, "objective": cfg.objective, **extra},
    }


def save_policy(directory: Path, actor: Actor, card: dict[str, Any]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous() for k, v in actor.state_dict().items()}
    save_file(state, str(directory / WEIGHTS_FILE))
    (directory / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n")


def run_directory(settings: TrainSettings) -> Path | None:
    """``OUT/<scenario>_<time>_seed<S>`` with copies of the inputs and the resolved config."""
    if settings.out is None:
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run = settings.out / f"{settings.scenario.name}_{stamp}_seed{settings.seed}"
    (run / "inputs").mkdir(parents=True, exist_ok=True)
    (run / "checkpoints").mkdir(exist_ok=True)
    for role, path in settings.inputs.items():
        if path.is_file():
            shutil.copy2(path, run / "inputs" / f"{role}-{path.name}")
    resolved = {"agent": settings.config.model_dump(), "steps": settings.steps}
    resolved["seed"] = settings.seed
    (run / "config.json").write_text(json.dumps(resolved, indent=2) + "\n")
    return run


class CurveLog:
    """Learning curves: CSV (always, when there is a run directory) and TensorBoard (when
    installed), one row per episode or evaluation."""

    def __init__(self, run: Path | None) -> None:
        self.rows: list[dict[str, float]] = []
        self.run = run
        self.writer: Any = None
        if run is not None:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(str(run / "tensorboard"))
            except ImportError:
                self.writer = None

    def add(self, row: dict[str, float]) -> None:
        self.rows.append(row)
        if self.writer is not None:
            for key, value in row.items():
                if key != "step":
                    self.writer.add_scalar(key, value, int(row["step"]))

    def close(self) -> None:
        if self.run is None:
            return
        keys = sorted({k for row in self.rows for k in row}, key=lambda k: (k != "step", k))
        with (self.run / "curves.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=keys)
            writer.writeheader()
            writer.writerows(self.rows)
        plot_curves(self.rows, self.run / "curves.png")
        if self.writer is not None:
            self.writer.close()


def plot_curves(rows: list[dict[str, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for ax, key, label in (
        (axes[0], "episode_reward", "episode reward"),
        (axes[1], "success_ratio", "success ratio"),
    ):
        points = [(r["step"], r[key]) for r in rows if key in r]
        if points:
            ax.plot(*zip(*points, strict=True), marker=".")
        ax.set_xlabel("training step")
        ax.set_title(label)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def save_checkpoint(path: Path, modules: dict[str, Any], step: int) -> None:
    """Tensors only (state dicts and the step), loadable with ``weights_only=True``."""
    state = {name: module.state_dict() for name, module in modules.items()}
    torch.save({"modules": state, "step": step}, path)


def load_checkpoint(path: Path, modules: dict[str, Any]) -> int:
    state = torch.load(path, weights_only=True)
    for name, module in modules.items():
        module.load_state_dict(state["modules"][name])
    return int(state["step"])


def report_progress(settings: TrainSettings, steps: int, reward: float, began: float) -> None:
    if settings.progress is not None:
        elapsed = max(time.perf_counter() - began, 1e-9)
        settings.progress(steps, reward, steps / elapsed)


def finish_run(
    settings: TrainSettings,
    env: CoordinationEnv,
    actor: Actor,
    best: float,
    teacher: float | None,
    start: int,
    began: float,
    log: CurveLog,
    run: Path | None,
    algorithm: str,
) -> TrainResult:
    """Card, best policy and curves at the end of a run. ``wall_s`` and ``steps_per_s`` cover
    the RL loop, ``total_wall_s`` also the warm start."""
    wall = time.perf_counter() - began
    done = settings.steps - start
    extra = {
        "steps": settings.steps,
        "wall_s": round(wall, 1),
        "total_wall_s": round(time.perf_counter() - settings.created, 1),
        "steps_per_s": round(done / wall, 1) if wall > 0 else None,
        "warm_start_teacher_success": teacher,
        "metrics": {"eval_success_ratio": round(best, 4)},
    }
    card = make_card(env, settings, algorithm, extra)
    if run is not None:
        save_policy(run / "best", actor, card)
    log.close()
    rate = done / wall if wall > 0 else 0.0
    return TrainResult(actor, card, best, settings.steps, wall, rate, log.rows)
