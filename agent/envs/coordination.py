"""The coordination environment (gymnasium): DeepCoord's scaling, placement and scheduling.

Every control step (``run_duration`` ms, 100 ms in DeepCoord) the agent outputs traffic
scheduling weights for each (node, chain, SF, destination node); placement and scaling follow
from the schedule (an SF runs wherever positive weight sends traffic).

Layout (``CoordinationLayout``): nodes in network order; *rows* are the (chain, SF) pairs in
chain order (an SF repeated in a chain counts once). The action is a float vector of length
``N * R * N`` read as ``[node][row][destination]``. Each (node, row) is normalised to sum 1,
weights under ``threshold`` (DeepCoord: 0.1) are zeroed and the rest renormalised; a row that
is all zero (or all under the threshold) goes wholly to its largest entry.

Observation (float32), as DeepCoord: each node's ingress arrival rate of the last step
(requested data rate of flows entering there, scaled so that one flow per 10 ms reads 1.0),
then, when ``observe_load``, each node's load / capacity (0 where the capacity is 0). Both come
from the simulator's partial, delayed observation model: a missing report reads 0.

Reward (``objective``), DeepCoord's objectives over the flows that finished this step:

- ``flow`` / ``only-flow``: (succeeded - dropped) / (succeeded + dropped), 0 when none finished;
- ``delay``: 1 - 2 * (mean delay - min delay) / diameter clipped to [-1, 1], where the minimum
  delay is the chain's processing delays and the diameter the longest shortest-path delay;
- ``prio-flow``: the flow term while the step's success ratio is under ``target_success``,
  else the flow term plus the delay term (DeepCoord: flow first, then delay);
- ``soft-deadline``: succeeded flows count +1 when their delay is within ``soft_deadline`` ms
  and 0 after it; ``soft-deadline-exp`` instead decays them by exp(-(delay - deadline) / dropoff);
  dropped flows count -1; divided by the flows that finished;
- ``weighted``: ``flow_weight`` x flow + ``delay_weight`` x delay + ``node_weight`` x nodes,
  with nodes = 1 - 2 x (share of capacity-holding nodes that host an SF).

An episode is ``episode_steps`` control steps (200); every reset draws a new simulator seed.
``info`` carries the step's ``metrics`` (``StepMetrics``), the applied ``weights`` and the
``decision`` they make (built when first read). ``step`` hands the simulator the weights
array itself (``Simulator.step_weights``: the same outcome as the Decision, without making
it).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import numpy.typing as npt

from agent.model.deepcoord import CoordinationLayout as CoordinationLayout
from agent.model.deepcoord import postprocess as postprocess
from agent.model.scenario import Scenario
from agent.model.types import Decision, Observation
from agent.sim.engine import Simulator
from agent.sim.metrics import StepMetrics

Obs = npt.NDArray[np.float32]
Act = npt.NDArray[np.float32]
Objective = Literal[
    "flow", "only-flow", "delay", "prio-flow", "soft-deadline", "soft-deadline-exp", "weighted"
]
OBJECTIVES: tuple[str, ...] = (
    "flow",
    "only-flow",
    "delay",
    "prio-flow",
    "soft-deadline",
    "soft-deadline-exp",
    "weighted",
)


def layout_of(scenario: Scenario, observe_load: bool = False) -> CoordinationLayout:
    """The layout of a scenario: its nodes, (chain, SF) rows, capacities and ingress."""
    net = scenario.network
    rows = tuple(
        (chain, sf) for chain, sfs in scenario.services.chains.items() for sf in dict.fromkeys(sfs)
    )
    return CoordinationLayout(
        tuple(net.node_ids),
        rows,
        tuple(float(n.cap) for n in net.nodes),
        tuple(net.ingress),
        observe_load,
    )


def observation_vector(layout: CoordinationLayout, observation: Observation) -> Obs:
    """DeepCoord's observation: ingress rate per node (and load / capacity)."""
    return layout.observe(observation)


def weights_to_decision(
    layout: CoordinationLayout, weights: npt.NDArray[np.float64], policy: str
) -> Decision:
    return layout.decision(weights, policy)


POLICY_NAME = "coordination-env"  # the policy named in the environment's decisions


class StepInfo(dict[str, Any]):
    """A step's ``info``: ``metrics`` (``StepMetrics``), ``weights`` (the post-processed
    schedule weights applied) and ``decision``, the Decision they make, built when it is
    first read (most training loops never read it)."""

    def __init__(
        self, metrics: StepMetrics, weights: npt.NDArray[np.float64], layout: CoordinationLayout
    ) -> None:
        super().__init__(metrics=metrics, weights=weights)
        self._layout = layout

    def __missing__(self, key: str) -> Any:
        if key != "decision":
            raise KeyError(key)
        decision = self["decision"] = self._layout.decision(self["weights"], POLICY_NAME)
        return decision

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key == "decision" or key in self else default


@dataclass(frozen=True)
class RewardConfig:
    objective: Objective = "flow"
    target_success: float = 0.9
    soft_deadline: float = 20.0
    flow_weight: float = 1.0
    delay_weight: float = 0.0
    node_weight: float = 0.0
    dropoff: float = 10.0  # ms, soft-deadline-exp decay


class CoordinationEnv(gym.Env[Obs, Act]):
    """One episode = ``episode_steps`` control steps of the simulator; new seed per reset."""

    def __init__(
        self,
        scenario: Scenario,
        reward: RewardConfig | None = None,
        episode_steps: int = 200,
        threshold: float = 0.1,
        observe_load: bool = False,
        seed: int = 0,
    ) -> None:
        self.metadata = {"render_modes": []}
        self.scenario = scenario
        self.layout = layout_of(scenario, observe_load)
        self.reward_config = reward or RewardConfig()
        self.episode_steps = episode_steps
        self.threshold = threshold
        self.observation_space = gym.spaces.Box(
            0.0, np.inf, shape=(self.layout.obs_size,), dtype=np.float32
        )
        self.action_space = gym.spaces.Box(
            0.0, 1.0, shape=(self.layout.action_size,), dtype=np.float32
        )
        self.sim = Simulator(scenario, seed=seed)
        self.next_seed = seed
        self.steps_taken = 0
        self.min_delay, self.diameter = _delay_bounds(scenario)
        self.n_hosts = max(sum(1 for c in self.layout.caps if c > 0), 1)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Obs, dict[str, Any]]:
        super().reset(seed=seed)
        if seed is not None:
            self.next_seed = seed
        observation = self.sim.reset(self.next_seed)
        self.next_seed += 1
        self.steps_taken = 0
        return observation_vector(self.layout, observation), {"seed": self.sim.seed}

    def weights(self, action: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
        """The post-processed (N, R, N) schedule weights of ``action``."""
        return postprocess(np.reshape(action, self.layout.action_shape), self.threshold)

    def decision(self, action: npt.NDArray[Any]) -> Decision:
        return weights_to_decision(self.layout, self.weights(action), POLICY_NAME)

    def step(self, action: npt.NDArray[Any]) -> tuple[Obs, float, bool, bool, dict[str, Any]]:
        """Apply ``action``'s schedule for one control step. The simulator takes the
        weights as they are (the same outcome as the Decision they make, which ``info``
        builds only when ``info["decision"]`` is read)."""
        weights = self.weights(action)
        result = self.sim.step_weights(weights, self.layout.rows)

        def hosts() -> int:
            return int(np.count_nonzero((weights > 0).any(axis=(0, 1))))

        info = StepInfo(result.metrics, weights, self.layout)
        return self._outcome(result.observation, self._reward(result.metrics, hosts), info)

    def step_decision(self, decision: Decision) -> tuple[Obs, float, bool, bool, dict[str, Any]]:
        """Step with a ready Decision (for baselines and teachers)."""
        result = self.sim.step(decision)
        info = {"metrics": result.metrics, "decision": decision}
        return self._outcome(result.observation, self.reward(result.metrics, decision), info)

    def _outcome(
        self, observation: Observation, reward: float, info: dict[str, Any]
    ) -> tuple[Obs, float, bool, bool, dict[str, Any]]:
        self.steps_taken += 1
        truncated = self.steps_taken >= self.episode_steps
        return observation_vector(self.layout, observation), reward, False, truncated, info

    def reward(self, metrics: StepMetrics, decision: Decision) -> float:
        def hosts() -> int:
            return sum(1 for n in decision.placement if n in self.layout.nodes)

        return self._reward(metrics, hosts)

    def _reward(self, metrics: StepMetrics, hosts: Callable[[], int]) -> float:
        """The objective's reward; ``hosts`` counts the nodes that host an SF (only
        ``weighted`` asks)."""
        cfg = self.reward_config
        flow = _flow_reward(metrics)
        if cfg.objective in ("flow", "only-flow"):
            return flow
        if cfg.objective == "delay":
            return self._delay_reward(metrics)
        if cfg.objective == "prio-flow":
            if metrics.success_ratio < cfg.target_success:
                return flow
            return flow + self._delay_reward(metrics)
        if cfg.objective in ("soft-deadline", "soft-deadline-exp"):
            exp = cfg.objective.endswith("exp")
            return _deadline_reward(metrics, cfg.soft_deadline, cfg.dropoff if exp else 0.0)
        nodes = 1.0 - 2.0 * min(hosts() / self.n_hosts, 1.0)
        delay = self._delay_reward(metrics)
        return cfg.flow_weight * flow + cfg.delay_weight * delay + cfg.node_weight * nodes

    def _delay_reward(self, metrics: StepMetrics) -> float:
        if not metrics.delays:
            return 0.0
        mean = sum(metrics.delays) / len(metrics.delays)
        value = 1.0 - 2.0 * (mean - self.min_delay) / max(self.diameter, 1e-9)
        return float(np.clip(value, -1.0, 1.0))


def _flow_reward(metrics: StepMetrics) -> float:
    done = metrics.successful + metrics.dropped
    return (metrics.successful - metrics.dropped) / done if done else 0.0


def _deadline_reward(metrics: StepMetrics, deadline: float, dropoff: float) -> float:
    done = metrics.successful + metrics.dropped
    if not done:
        return 0.0
    score = 0.0
    for delay in metrics.delays:
        if delay <= deadline:
            score += 1.0
        elif dropoff > 0:
            score += math.exp(-(delay - deadline) / dropoff)
    return (score - metrics.dropped) / done


def _delay_bounds(scenario: Scenario) -> tuple[float, float]:
    services = scenario.services
    chains = services.chains.values()
    min_delay = min(
        (sum(services.functions[sf].processing_delay_mean for sf in sfs) for sfs in chains),
        default=0.0,
    )
    paths = scenario.network.shortest_paths(scenario.routing, frozenset(), frozenset())
    diameter = max((p.delay for p in paths.values()), default=1.0)
    return min_delay, max(diameter, 1.0)
