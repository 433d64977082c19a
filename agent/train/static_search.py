"""The best static schedule for a scenario, as a policy: ``static-search``.

The cross-entropy search of ``schedule_search`` run on the scenario itself (its traffic,
trace, failures and schedule semantics) over whole episodes (``scenario.steps`` control
steps, so that a rate change or a failure mid-episode is part of what it scores), then
pruned; the schedule found is then held fixed for every step of every episode. It is
what a policy that does not look at its observation can do at best on that scenario, the
yardstick for policies that react (``docs/reacting.md``).

The search plays training seeds only (``SEARCH_SEED`` and ``PRUNE_SEED`` on, see
``schedule_search``), never an evaluation's (a scenario's seed, 1234 for the bundled
ones, and the next few hundred): ``check_disjoint`` says so where an evaluation states
its seeds.

Searching costs minutes, so the schedule is cached in a JSON file named by the
scenario's content hash (``scenario_key``: network, services, traffic and trace,
failures, observation model, semantics, steps, and the search's settings), in
``cache_directory()``: ``$AGENT_CACHE_DIR/static-search``, else
``~/.cache/sdn-coordination-agent/static-search``. A cache file that does not fit the
scenario is searched again and overwritten.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from agent.envs.coordination import CoordinationEnv, layout_of
from agent.model.deepcoord import CoordinationLayout
from agent.model.scenario import Scenario
from agent.model.types import Decision, Observation
from agent.train.schedule_search import (
    PRUNE_SEED,
    SEARCH_SEED,
    SearchArgs,
    episode_scores,
    prune_schedule,
    schedule_weights,
    search_schedule,
)

Array = npt.NDArray[np.float64]
POLICY_NAME = "static-search"
CACHE_FORMAT = "static-search/1"
SEED_SPAN = 100_000  # search and pruning seeds lie in [SEARCH_SEED, PRUNE_SEED + SEED_SPAN)
VALIDATION_SEED = PRUNE_SEED + 50_000  # the choice among candidates: VALIDATION_SEED + k
VALIDATION_EPISODES = 16


def default_args(scenario: Scenario) -> SearchArgs:
    """Close to the recipe's search for Abilene-sized networks (``recipe.SIZES``: 24
    schedules of 3 episodes per iteration, pruning on 8), over whole episodes of the
    scenario."""
    return SearchArgs(
        iterations=40,
        population=24,
        episodes=3,
        steps=scenario.steps,
        prune_rounds=2,
        prune_episodes=8,
    )


def regime_args(**changes: int) -> SearchArgs:
    """The search per regime (a scenario held in one state, see ``regimes``): stationary
    episodes of 100 steps, otherwise as ``default_args``."""
    settings = {"iterations": 40, "population": 24, "episodes": 3, "steps": 100}
    settings |= {"prune_rounds": 2, "prune_episodes": 8} | changes
    return SearchArgs(**settings)


class StaticSchedulePolicy:
    """One schedule, the same Decision object for every observation."""

    def __init__(self, layout: CoordinationLayout, weights: Array, name: str = POLICY_NAME):
        self.name = name
        self.weights = weights
        self.decision = layout.decision(weights, name)

    def predict(self, observation: Observation) -> Decision:
        return self.decision


# ------------------------------------------------------------------ the scenario's hash
def scenario_key(scenario: Scenario, args: SearchArgs) -> str:
    """SHA-256 of what the searched schedule depends on (not of file names)."""
    description = json.dumps(_content(scenario) | {"search": asdict(args)}, sort_keys=True)
    return hashlib.sha256(description.encode()).hexdigest()


def _content(scenario: Scenario) -> dict[str, Any]:
    net, services, traffic = scenario.network, scenario.services, scenario.traffic
    functions = {
        name: [f.processing_delay_mean, f.processing_delay_stdev, f.startup_delay]
        for name, f in services.functions.items()
    }
    return {
        "nodes": [[n.id, n.cap] for n in net.nodes],
        "links": [[link.a, link.b, link.cap, link.delay] for link in net.links],
        "ingress": list(net.ingress),
        "egress": list(net.egress),
        "chains": {name: list(sfs) for name, sfs in services.chains.items()},
        "functions": functions,
        "resources": _file_hash(services.source),
        "traffic": traffic.config.model_dump(mode="json", exclude={"trace_path"}),
        "trace": [[r.time, r.node, r.inter_arrival_mean, r.cap] for r in traffic.trace],
        "failures": [
            [f.down_at, f.up_at, f.node, sorted(f.link) if f.link else None]
            for f in scenario.failures
        ],
        "observation": scenario.observation.model_dump(mode="json"),
        "schedule": scenario.schedule_mode.value,
        "routing": scenario.routing.value,
        "steps": scenario.steps,
    }


def _file_hash(path: str | None) -> str | None:
    if path is None or not Path(path).is_file():
        return None
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ------------------------------------------------------------------ cache
def cache_directory() -> Path:
    root = os.environ.get("AGENT_CACHE_DIR")
    base = Path(root) if root else Path.home() / ".cache" / "sdn-coordination-agent"
    return base / "static-search"


def cache_file(scenario: Scenario, args: SearchArgs, directory: Path | None = None) -> Path:
    """Named by the content hash alone: scenarios that differ only in name share it."""
    return (directory or cache_directory()) / f"{scenario_key(scenario, args)[:24]}.json"


def read_cached(path: Path, key: str, layout: CoordinationLayout) -> tuple[Array, float] | None:
    """The schedule and score cached in ``path`` for ``key``; None when there is none or
    it does not fit ``layout`` (a schedule per row that sums to 1, no negative weight)."""
    try:
        record = json.loads(path.read_text())
        weights = np.asarray(record["weights"], dtype=np.float64)
        value = float(record["score"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if record.get("format") != CACHE_FORMAT or record.get("key") != key:
        return None
    fits = weights.shape == layout.action_shape and bool(np.isfinite(weights).all())
    if not fits or (weights < 0).any() or not np.allclose(weights.sum(axis=-1), 1.0):
        return None
    return weights, value


def write_cached(path: Path, key: str, scenario: Scenario, weights: Array, value: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "format": CACHE_FORMAT,
        "key": key,
        "scenario": scenario.name,
        "score": value,
        "weights": np.round(weights, 12).tolist(),
    }
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(record) + "\n")
    temporary.replace(path)


# ------------------------------------------------------------------ search
Note = Callable[[str], None]


def search_static(
    scenario: Scenario, args: SearchArgs, note: Note | None = None
) -> tuple[Array, float]:
    """Search (and prune) one schedule for ``scenario``: the schedule and its validation
    score (the pruning's, else the search's on fresh seeds)."""
    env = CoordinationEnv(scenario, episode_steps=args.steps, seed=args.seed)

    def searched(iteration: int, scored: int, best: float) -> None:
        if note is not None and scored % (args.population * 10) == 0:
            note(f"static search on {scenario.name}: {scored} schedules, best {best:.4f}")

    logits, value = search_schedule(env, args, searched)
    weights = schedule_weights(env, logits)
    if args.prune_rounds > 0:
        weights, value = prune_schedule(env, weights, args)
    return weights, value


def searched_schedule(
    scenario: Scenario,
    args: SearchArgs,
    directory: Path | None = None,
    note: Note | None = None,
) -> tuple[Array, float]:
    """One search's schedule for ``scenario`` (``search_static``), from the cache when it
    holds one, else searched and cached."""
    key = scenario_key(scenario, args)
    path = cache_file(scenario, args, directory)
    cached = read_cached(path, key, layout_of(scenario))
    if cached is not None:
        return cached
    if note is not None:
        note(f"static search on {scenario.name}: no cached schedule, searching ({path})")
    weights, value = search_static(scenario, args, note)
    write_cached(path, key, scenario, weights, value)
    return weights, value


def static_schedule(
    scenario: Scenario,
    args: SearchArgs | None = None,
    directory: Path | None = None,
    note: Note | None = None,
    per_regime: SearchArgs | None = None,
) -> tuple[Array, float]:
    """The best static schedule of ``scenario`` and its validation score: of the search
    on the scenario itself (``args``) and the searches on each of its regimes held for a
    whole episode (``per_regime``), the one that does best on the scenario's validation
    episodes. Cached as a whole, and each search on its own."""
    from agent.train.regimes import scenario_family, stationary

    args = args or default_args(scenario)
    per_regime = per_regime or regime_args()
    regimes, _ = scenario_family(scenario)
    described = [[r.name, list(r.means), sorted(r.down)] for r in regimes]
    record = {"of": scenario_key(scenario, args), "regimes": described, "each": asdict(per_regime)}
    key = hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()
    path = (directory or cache_directory()) / f"{key[:24]}.json"
    cached = read_cached(path, key, layout_of(scenario))
    if cached is not None:
        return cached
    found = [searched_schedule(scenario, args, directory, note)[0]]
    found += [
        searched_schedule(stationary(scenario, r), per_regime, directory, note)[0] for r in regimes
    ]
    weights, value = best_on_validation(scenario, found, args)
    write_cached(path, key, scenario, weights, value)
    return weights, value


def best_on_validation(
    scenario: Scenario, candidates: list[Array], args: SearchArgs
) -> tuple[Array, float]:
    """The candidate with the best success ratio on validation episodes (seeds
    ``VALIDATION_SEED`` on, training seeds); the first on a tie."""
    env = CoordinationEnv(scenario, episode_steps=scenario.steps, seed=args.seed)
    first = VALIDATION_SEED + args.seed * 1_000
    seeds = list(range(first, first + VALIDATION_EPISODES))
    values = [float(episode_scores(env, w, seeds, scenario.steps).mean()) for w in candidates]
    best = int(np.argmax(values))
    return candidates[best], values[best]


def static_policy(
    scenario: Scenario, args: SearchArgs | None = None, directory: Path | None = None
) -> StaticSchedulePolicy:
    """``static-search`` for ``scenario``: its best static schedule, held fixed."""
    weights, _ = static_schedule(scenario, args, directory)
    return StaticSchedulePolicy(layout_of(scenario), weights)


def check_disjoint(first: int, episodes: int, args: SearchArgs) -> None:
    """ValueError when evaluation seeds ``first .. first + episodes - 1`` meet the
    search's training seeds."""
    low = SEARCH_SEED + args.seed * 1_000
    high = PRUNE_SEED + args.seed * 1_000 + SEED_SPAN
    if first < high and first + episodes > low:
        raise ValueError(
            f"evaluation seeds {first}..{first + episodes - 1} overlap the static search's "
            f"training seeds {low}..{high - 1}"
        )


__all__ = [
    "POLICY_NAME",
    "StaticSchedulePolicy",
    "cache_directory",
    "cache_file",
    "check_disjoint",
    "default_args",
    "regime_args",
    "scenario_key",
    "search_static",
    "searched_schedule",
    "static_policy",
    "static_schedule",
]
