"""A teacher for the coordination actor: cross-entropy search over one static schedule,
then sparsification.

The traffic of the DeepCoord scenarios is stationary, so a good schedule barely depends on
the observation. This search finds one, in the simulator, as a Gaussian over the actor's
output logits ``[node][row][destination]`` (softmax per (node, row), then DeepCoord's
threshold and renormalisation): each iteration samples ``population`` logit arrays, scores
them on the same seeds, and refits the Gaussian to the best ``elite`` share. Destinations
without capacity start with low logits (``masked_logit``) but stay reachable, so the search
may drop flows early on purpose (admission control).

The score is the success ratio over ``episodes`` episodes, less ``risk`` times its standard
deviation over them (variance-aware: 0 scores the mean alone). It is measured with the
scenario's schedule semantics; under ``random`` (a switch's hashing: each flow draws its
destination by weight) one schedule's outcome varies from draw to draw, so several
episodes per schedule keep the elite from being chosen by luck.

Hashing also makes small splits costly: a destination that gets 20 % of a node's flows on
average gets bursts of them. ``prune_schedule`` therefore tries, row by row, to drop a
row's smallest destination (its share goes to the others) and keeps each change that does
not lower the score on validation seeds; ``prune_rounds`` passes of it.

The trainers imitate the result (behaviour cloning) before reinforcement learning; what ships
is always the trained actor network, never this schedule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from agent.envs.coordination import CoordinationEnv, weights_to_decision
from agent.model.deepcoord import postprocess

Array = npt.NDArray[np.float64]
SearchProgress = Callable[[int, int, float], None]  # iteration, schedules scored, best so far
SEARCH_SEED = 10_000  # search episodes: SEARCH_SEED + seed x 1000 + iteration x episodes + k
PRUNE_SEED = 20_000  # validation episodes of the pruning: PRUNE_SEED + seed x 1000 + k
TEACHER_SEED = 99_999  # the teacher's reported score: episodes TEACHER_SEED + k


@dataclass
class SearchArgs:
    iterations: int = 60
    population: int = 32
    elite_fraction: float = 0.25
    init_std: float = 1.5
    min_std: float = 0.2
    masked_logit: float = -2.0
    steps: int = 200  # control steps per evaluation episode
    seed: int = 0
    episodes: int = 1  # episodes per schedule scored
    risk: float = 0.0  # score = mean - risk x standard deviation over the episodes
    prune_rounds: int = 0  # passes of prune_schedule after the search; 0: none
    prune_episodes: int = 4  # validation episodes per pruning candidate


def softmax(logits: Array) -> Array:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    out: Array = e / e.sum(axis=-1, keepdims=True)
    return out


def schedule_weights(env: CoordinationEnv, logits: Array) -> Array:
    """The post-processed schedule (N, R, N) that ``logits`` stand for."""
    return postprocess(softmax(logits), env.threshold)


def episode_scores(env: CoordinationEnv, weights: Array, seeds: list[int], steps: int) -> Array:
    """Success ratio of the static schedule ``weights`` in one episode per seed."""
    decision = weights_to_decision(env.layout, weights, "schedule-search")
    out = np.zeros(len(seeds))
    for k, seed in enumerate(seeds):
        env.reset(seed=seed)
        sim = env.sim
        for _ in range(steps):
            sim.step(decision)
        out[k] = sim.successful / sim.generated if sim.generated else 0.0
    return out


def risk_score(scores: Array, risk: float) -> float:
    """Mean less ``risk`` standard deviations (none with a single episode)."""
    spread = float(scores.std(ddof=1)) if len(scores) > 1 else 0.0
    return float(scores.mean()) - risk * spread


def score(
    env: CoordinationEnv, logits: Array, seed: int, steps: int, episodes: int = 1, risk: float = 0.0
) -> float:
    """Score of the static schedule ``logits`` over ``episodes`` episodes from ``seed``."""
    seeds = [seed + k for k in range(episodes)]
    return risk_score(episode_scores(env, schedule_weights(env, logits), seeds, steps), risk)


def search_schedule(
    env: CoordinationEnv, args: SearchArgs, progress: SearchProgress | None = None
) -> tuple[Array, float]:
    """Return the mean logits found and their score on fresh seeds. ``progress`` hears of
    every schedule scored: ``iterations x population`` of them, then the mean's."""
    rng = np.random.default_rng(args.seed)
    caps = np.asarray(env.layout.caps)
    mean = np.zeros(env.layout.action_shape)
    mean[..., caps <= 0] = args.masked_logit
    std = np.full(mean.shape, args.init_std)
    n_elite = max(2, int(args.population * args.elite_fraction))
    best, scored = 0.0, 0
    for it in range(args.iterations):
        seed = SEARCH_SEED + args.seed * 1_000 + it * args.episodes
        samples = mean + std * rng.standard_normal((args.population, *mean.shape))
        scores = np.zeros(args.population)
        for k, sample in enumerate(samples):
            scores[k] = score(env, sample, seed, args.steps, args.episodes, args.risk)
            best, scored = max(best, float(scores[k])), scored + 1
            if progress is not None:
                progress(it, scored, best)
        elite = samples[np.argsort(-scores)[:n_elite]]
        mean = elite.mean(axis=0)
        std = np.maximum(elite.std(axis=0), args.min_std)
    final = score(env, mean, TEACHER_SEED, args.steps, args.episodes, args.risk)
    if progress is not None:
        progress(args.iterations, scored + 1, best)
    return mean, final


def prune_candidates(weights: Array) -> list[tuple[int, int, int]]:
    """(node, row, destination) of each row's smallest positive weight, rows that split."""
    out = []
    for node, row in zip(*np.nonzero((weights > 0).sum(axis=-1) > 1), strict=True):
        positive = np.flatnonzero(weights[node, row] > 0)
        smallest = positive[np.argmin(weights[node, row, positive])]
        out.append((int(node), int(row), int(smallest)))
    return out


def without(weights: Array, node: int, row: int, dest: int) -> Array:
    """``weights`` with ``dest`` dropped from (node, row) and the row renormalised."""
    out = weights.copy()
    out[node, row, dest] = 0.0
    out[node, row] /= out[node, row].sum()
    return out


def prune_schedule(
    env: CoordinationEnv,
    weights: Array,
    args: SearchArgs,
    progress: Callable[[int, float], None] | None = None,
) -> tuple[Array, float]:
    """Drop small splits that do not pay (see the module's docstring); returns the sparser
    schedule and its validation score. ``progress`` hears (candidates tried, score so far),
    first (0, the unpruned schedule's score)."""
    seeds = [PRUNE_SEED + args.seed * 1_000 + k for k in range(args.prune_episodes)]

    def value(w: Array) -> float:
        return risk_score(episode_scores(env, w, seeds, args.steps), args.risk)

    current, tried = value(weights), 0
    if progress is not None:
        progress(0, current)
    for _ in range(args.prune_rounds):
        changed = False
        for node, row, dest in prune_candidates(weights):
            candidate = without(weights, node, row, dest)
            tried += 1
            got = value(candidate)
            if got >= current:
                weights, current, changed = candidate, got, True
            if progress is not None:
                progress(tried, current)
        if not changed:
            break
    return weights, current
