"""A teacher for the coordination actor: cross-entropy search over one static schedule.

The traffic of the DeepCoord scenarios is stationary, so a good schedule barely depends on
the observation. This search finds one, in the simulator, as a Gaussian over the actor's
output logits ``[node][row][destination]`` (softmax per (node, row), then DeepCoord's
threshold and renormalisation): each iteration samples ``population`` logit arrays, scores
them on the same seed (success ratio over one episode), and refits the Gaussian to the best
``elite`` share. Destinations without capacity start with low logits (``masked_logit``) but
stay reachable, so the search may drop flows early on purpose (admission control).

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


def softmax(logits: Array) -> Array:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    out: Array = e / e.sum(axis=-1, keepdims=True)
    return out


def score(env: CoordinationEnv, logits: Array, seed: int, steps: int) -> float:
    """Success ratio of the static schedule over one episode on ``seed``."""
    weights = postprocess(softmax(logits), env.threshold)
    decision = weights_to_decision(env.layout, weights, "schedule-search")
    env.reset(seed=seed)
    sim = env.sim
    for _ in range(steps):
        sim.step(decision)
    return sim.successful / sim.generated if sim.generated else 0.0


def search_schedule(
    env: CoordinationEnv, args: SearchArgs, progress: SearchProgress | None = None
) -> tuple[Array, float]:
    """Return the mean logits found and their score on a fresh seed. ``progress`` hears of
    every schedule scored: ``iterations x population`` of them, then the mean's."""
    rng = np.random.default_rng(args.seed)
    caps = np.asarray(env.layout.caps)
    mean = np.zeros(env.layout.action_shape)
    mean[..., caps <= 0] = args.masked_logit
    std = np.full(mean.shape, args.init_std)
    n_elite = max(2, int(args.population * args.elite_fraction))
    best, scored = 0.0, 0
    for it in range(args.iterations):
        seed = 10_000 + args.seed * 1_000 + it
        samples = mean + std * rng.standard_normal((args.population, *mean.shape))
        scores = np.zeros(args.population)
        for k, sample in enumerate(samples):
            scores[k] = score(env, sample, seed, args.steps)
            best, scored = max(best, float(scores[k])), scored + 1
            if progress is not None:
                progress(it, scored, best)
        elite = samples[np.argsort(-scores)[:n_elite]]
        mean = elite.mean(axis=0)
        std = np.maximum(elite.std(axis=0), args.min_std)
    final = score(env, mean, 99_999, args.steps)
    if progress is not None:
        progress(args.iterations, scored + 1, best)
    return mean, final
