"""What the coordination trainers (DDPG, TD3, SAC) share: environment and actor, evaluation,
the optional imitation warm start, policy files and the end of a run. The agent configuration
and the run directory are in ``coordination_config`` (no torch there, so that the command
line checks the YAML and makes the run directory before it loads torch); curves and
checkpoints in ``run_log``.

A run reports its phases (``TrainSettings.progress``, see ``progress``): the warm start's
search and imitation, then training, then saving. The run directory is made before any of
them; ``TrainResult.phase_s`` has the wall time of each phase and ``total_wall_s`` the whole
run's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from agent.envs.coordination import CoordinationEnv
from agent.model.deepcoord import RATE_UNIT_MS
from agent.model.scenario import Scenario
from agent.policies.coordination.arrays import ActorArrays
from agent.policies.coordination.card import PolicyCard
from agent.policies.coordination.network import ACTIVATIONS, Actor
from agent.policies.coordination.policy import (
    CARD_FORMAT,
    CARD_VERSION,
    fingerprint,
    network_facts,
    save_policy,
)
from agent.train.coordination_config import DeepCoordConfig as DeepCoordConfig  # re-exported
from agent.train.coordination_config import (
    file_hash,
    make_run_directory,
    resolved_config,
    warm_start_enabled,
)
from agent.train.coordination_config import load_deepcoord_config as load_deepcoord_config
from agent.train.learner import BIG_LAYER, keep_freed_memory, learner_threads
from agent.train.progress import PhaseTracker, Progress
from agent.train.run_log import CurveLog
from agent.train.schedule_search import (
    SearchArgs,
    prune_candidates,
    prune_schedule,
    schedule_weights,
    search_schedule,
)

if TYPE_CHECKING:
    from agent.train.resume import RunState


def make_env(scenario: Scenario, config: DeepCoordConfig, seed: int) -> CoordinationEnv:
    return CoordinationEnv(
        scenario,
        config.reward(),
        config.episode_steps,
        config.threshold,
        observe_load="node_load" in config.observation_space,
        seed=seed,
    )


def make_actor(env: CoordinationEnv, config: DeepCoordConfig) -> Actor:
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
    config: DeepCoordConfig
    steps: int
    seed: int = 0
    out: Path | None = None  # run directory; None: nothing written
    resume: Path | None = None  # checkpoint file
    inputs: dict[str, Path] = field(default_factory=dict)  # role -> file, copied and hashed
    progress: Progress | None = None
    threads: int | None = None  # torch threads; None: as ``learner_threads`` says
    created: float = field(default_factory=time.perf_counter)  # for the total wall time
    run_dir: Path | None = None  # set by ``run_directory``, made once per run
    phase_s: dict[str, float] = field(default_factory=dict)  # wall seconds per phase

    def phase(self, name: str, total: int, unit: str) -> PhaseTracker:
        """Start reporting phase ``name`` (``total`` of ``unit``); its time lands in
        ``phase_s`` when the tracker finishes."""
        return PhaseTracker(self.progress, name, total, unit, self.phase_s)


@dataclass
class TrainResult:
    actor: Actor
    card: PolicyCard
    best_success: float
    steps: int
    wall_s: float  # the reinforcement-learning loop
    steps_per_s: float  # of the reinforcement-learning loop
    curve: list[dict[str, float]]
    total_wall_s: float = 0.0  # the whole run, from the settings' creation to the saved policy
    phase_s: dict[str, float] = field(default_factory=dict)


# ------------------------------------------------------------------ evaluation
def evaluate_actor(env: CoordinationEnv, actor: Actor, episodes: int, seed: int) -> float:
    """Success ratio (succeeded / generated) of the deterministic actor over ``episodes``.
    The actor runs in numpy (``ActorArrays``, as shipped policies run): a snapshot of its
    weights, several times cheaper a step than torch for one observation."""
    arrays = ActorArrays.of(actor, activation_of(actor))
    successful = generated = 0
    for k in range(episodes):
        obs, _ = env.reset(seed=seed + k)
        for _ in range(env.episode_steps):
            obs, _, _, _, _ = env.step(arrays.forward(obs).astype(np.float32))
        successful += env.sim.successful
        generated += env.sim.generated
    return successful / generated if generated else 0.0


def activation_of(actor: Actor) -> str:
    """The name of the activation between ``actor``'s layers (relu where it has none)."""
    kinds = {type(module) for module in actor.body}
    return next((name for name, kind in ACTIVATIONS.items() if kind in kinds), "relu")


def set_threads(settings: TrainSettings, *networks: torch.nn.Module) -> int:
    """Set (and return) the run's torch threads: ``settings.threads``, else
    ``learner_threads`` of the networks' largest layer. Freed memory stays in the heap
    (``keep_freed_memory``) for the same networks."""
    largest = max(p.numel() for net in networks for p in net.parameters())
    threads = settings.threads or learner_threads(largest)
    torch.set_num_threads(threads)
    if largest >= BIG_LAYER:
        keep_freed_memory()
    settings.threads = threads
    return threads


def act(actor: Actor, obs: np.ndarray) -> np.ndarray:
    """The actor's weights for one observation: ``actor(obs[None])[0]``, the same
    kernels on the same values, with ``forward`` called directly (a module call's
    bookkeeping is a large part of the time of so small a network; see ``run_layers``)."""
    with torch.inference_mode():
        x = torch.from_numpy(obs)[None]
        forward = actor.forward if type(actor) is Actor else actor
        out: np.ndarray = forward(x)[0].numpy()
    return out


# ------------------------------------------------------------------ warm start
def warm_start(env: CoordinationEnv, actor: Actor, settings: TrainSettings) -> float | None:
    """Behaviour cloning of a searched static schedule (see ``schedule_search``); returns the
    teacher's success ratio, or None when the configuration turns it off. Reports the phases
    ``search`` (schedules scored), ``prune`` (changes tried; only with
    ``pretrain_prune_rounds``) and ``imitate`` (gradient steps)."""
    cfg = settings.config
    if not warm_start_enabled(cfg):
        return None
    args = search_args(cfg, settings.seed)
    cached = load_teacher(settings.run_dir)
    if cached is not None:  # a resumed run: the search (and pruning) already ran
        target, teacher_score = cached
    else:
        target, teacher_score = find_teacher(env, args, settings)
        save_teacher(settings.run_dir, target, teacher_score)
    imitate = settings.phase("imitate", cfg.pretrain_bc_steps, "steps")
    behaviour_clone(env, actor, target, cfg.pretrain_bc_steps, settings.seed, imitate)
    imitate.finish()
    return teacher_score


def find_teacher(
    env: CoordinationEnv, args: SearchArgs, settings: TrainSettings
) -> tuple[np.ndarray, float]:
    """The phases ``search`` and ``prune``: the schedule to imitate and its score."""
    search = settings.phase("search", args.iterations * args.population + 1, "schedules")

    def searched(iteration: int, scored: int, best: float) -> None:
        shown = min(iteration + 1, args.iterations)
        search.update(scored, best, f"iteration {shown}/{args.iterations}")

    logits, teacher_score = search_schedule(env, args, searched)
    search.update(search.total, detail=f"teacher (the mean schedule) {teacher_score:.4f}")
    search.finish()
    target = schedule_weights(env, logits)
    if args.prune_rounds > 0:
        target, teacher_score = prune(env, target, args, settings)
    return target, teacher_score


TEACHER_FILE = "teacher.pt"  # in checkpoints/: the searched (and pruned) schedule


def save_teacher(run: Path | None, target: np.ndarray, score: float) -> None:
    if run is not None:
        state = {"target": torch.from_numpy(np.ascontiguousarray(target)), "score": score}
        torch.save(state, run / "checkpoints" / TEACHER_FILE)


def load_teacher(run: Path | None) -> tuple[np.ndarray, float] | None:
    """The schedule a stopped run had searched, when its run directory has it."""
    path = None if run is None else run / "checkpoints" / TEACHER_FILE
    if path is None or not path.is_file():
        return None
    state = torch.load(path, weights_only=True)
    return state["target"].numpy(), float(state["score"])


def search_args(cfg: DeepCoordConfig, seed: int) -> SearchArgs:
    return SearchArgs(
        iterations=cfg.pretrain_search_iterations,
        population=cfg.pretrain_search_population,
        steps=cfg.pretrain_search_steps,
        seed=seed,
        episodes=cfg.pretrain_search_episodes,
        risk=cfg.pretrain_search_risk,
        prune_rounds=cfg.pretrain_prune_rounds,
        prune_episodes=cfg.pretrain_prune_episodes,
    )


def prune(
    env: CoordinationEnv, weights: np.ndarray, args: SearchArgs, settings: TrainSettings
) -> tuple[np.ndarray, float]:
    """The ``prune`` phase: ``prune_schedule`` with its progress; at most ``prune_rounds``
    passes over the rows that split."""
    splits = len(prune_candidates(weights))
    tracker = settings.phase("prune", args.prune_rounds * splits, "changes tried")
    scores: list[float] = []

    def pruned(tried: int, value: float) -> None:
        scores.append(value)
        tracker.update(tried, value, f"validation score {scores[0]:.4f} -> {value:.4f}")

    weights, value = prune_schedule(env, weights, args, pruned)
    left = len(prune_candidates(weights))
    detail = f"{splits} split rows -> {left}, validation score {scores[0]:.4f} -> {value:.4f}"
    tracker.update(tracker.total, detail=detail)
    tracker.finish()
    return weights, value


def behaviour_clone(
    env: CoordinationEnv,
    actor: Actor,
    target: np.ndarray,
    steps: int,
    seed: int,
    tracker: PhaseTracker | None = None,
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
    for step in range(1, steps + 1):
        idx = torch.randint(0, len(observations), (64,), generator=generator)
        batch = observations[idx] * (1 + 0.1 * torch.randn(64, 1, generator=generator))
        log_p = torch.log_softmax(actor.logits(batch), dim=-1)
        loss = -(goal * log_p).sum(-1).mean()
        optimiser.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimiser.step()
        if tracker is not None:
            tracker.update(step, detail=f"loss {loss.item():.4f}")


# ------------------------------------------------------------------ files
def make_card(
    env: CoordinationEnv, settings: TrainSettings, algorithm: str, extra: dict[str, Any]
) -> PolicyCard:
    scenario, layout, cfg = settings.scenario, env.layout, settings.config
    facts = network_facts(scenario.network)
    net_name = Path(scenario.network.source).stem if scenario.network.source else scenario.name
    card: dict[str, Any] = {
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
        "schedule": scenario.schedule_mode.value,
        "scenario": {
            "name": scenario.name,
            "inputs": {role: file_hash(p) for role, p in settings.inputs.items() if p.is_file()},
        },
        "training": {"seed": settings.seed, "objective": cfg.objective, **extra},
    }
    return PolicyCard.model_validate(card)


def run_directory(settings: TrainSettings) -> Path | None:
    """The run's directory (see ``make_run_directory``): made on the first call, the same
    one on later calls (``settings.run_dir``); None when nothing is written."""
    if settings.out is None:
        return None
    if settings.run_dir is None:
        settings.run_dir = make_run_directory(
            settings.out,
            settings.scenario.name,
            settings.seed,
            settings.inputs,
            resolved_config(settings.config, settings.steps, settings.seed),
        )
    return settings.run_dir


class TrainProgress:
    """The reinforcement-learning phase's reports: steps done, steps per second, the last
    episode's reward and the best evaluation so far."""

    def __init__(self, settings: TrainSettings, start: int) -> None:
        self.start = start
        self.tracker = settings.phase("train", settings.steps - start, "steps")
        self.began = time.perf_counter()
        self.reward: float | None = None

    def step(self, step: int, best: float) -> None:
        done = step - self.start
        rate = done / max(time.perf_counter() - self.began, 1e-9)
        detail = f"{rate:.0f} steps/s"
        if self.reward is not None:
            detail += f", episode reward {self.reward:.1f}"
        self.tracker.update(done, best, detail)


def finish_run(
    settings: TrainSettings,
    env: CoordinationEnv,
    state: RunState,
    progress: TrainProgress,
    log: CurveLog,
    run: Path | None,
    algorithm: str,
) -> TrainResult:
    """Card, best policy and curves at the end of a run. ``wall_s`` and ``steps_per_s`` cover
    the RL loop, ``total_wall_s`` the whole run (warm start and saving too), ``phase_s``
    each phase."""
    actor, best, teacher = state.best_actor, state.best, state.teacher
    wall = progress.tracker.finish()
    done = settings.steps - progress.start
    saving = settings.phase("save", 0, "")
    extra = {
        "steps": settings.steps,
        "wall_s": round(wall, 1),
        "total_wall_s": round(time.perf_counter() - settings.created, 1),
        "phase_s": {name: round(t, 1) for name, t in settings.phase_s.items()},
        "steps_per_s": round(done / wall, 1) if wall > 0 else None,
        "torch_threads": settings.threads,
        "warm_start_teacher_success": teacher,
        "metrics": {"eval_success_ratio": round(best, 4)},
    }
    card = make_card(env, settings, algorithm, extra)
    if run is not None:
        save_policy(run / "best", actor, card)
    log.close()
    saving.finish()
    rate = done / wall if wall > 0 else 0.0
    total = time.perf_counter() - settings.created
    result = TrainResult(actor, card, best, settings.steps, wall, rate, log.rows)
    result.total_wall_s, result.phase_s = total, dict(settings.phase_s)
    return result
