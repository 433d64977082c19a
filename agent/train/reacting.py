"""Training a coordination policy that reacts: imitation of a regime teacher.

1. **regimes**: a static schedule per regime (``regimes.stationary``: the scenario held
   in one steady state; normal rates, one ingress at double rate, a node down), each found
   by the cross-entropy search and cached as ``static_search`` caches (by content hash);
   then each regime gets the best, on its own validation episodes, of those schedules and
   the scenario's best static schedule (``assign``): a regime keeps the static schedule
   where no other does better there;
2. **teacher**: ``RegimeTeacher`` plays, at every step, the schedule of the regime that
   best explains the observation (ingress rates, failed nodes);
3. **imitate**: the DeepCoord actor learns the teacher by behaviour cloning, on
   observations of randomised episodes (``regimes.Randomisation``: rates scaled, an
   ingress at double rate for a while, a node failing), first played by the teacher, then
   (``dagger_episodes``) by the actor itself and labelled by the teacher (DAgger), so
   that it also learns what to do where its own mistakes lead;
4. **save**: the actor as a policy directory (safetensors and a JSON card), which
   ``agent eval coordination --policy DIR`` loads like any trained policy.

The actor's observation (ingress rate per node, optionally load per node) does not show
failed nodes, so it learns the teacher's choice among the regimes without failures (from
the ingress rates; its episodes still have failures in them);
``agent.policies.coordination_reacting.DownNodeMask`` adds the reaction to failures
(``--policy mask-down:DIR``). Randomised episodes use seeds ``REACT_SEED`` on, apart from
the searches' and from evaluation seeds.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch

from agent.model.deepcoord import CoordinationLayout, postprocess
from agent.model.scenario import Scenario
from agent.model.types import Decision, Observation
from agent.policies.coordination.card import PolicyCard
from agent.policies.coordination.network import Actor
from agent.policies.coordination.policy import save_policy
from agent.sim.engine import Simulator
from agent.train.coordination_common import TrainSettings, make_card, make_env
from agent.train.recipe import default_config
from agent.train.regimes import Randomisation, Regime, RegimeTeacher, randomised, stationary
from agent.train.schedule_search import SearchArgs, episode_scores
from agent.train.static_search import regime_args, searched_schedule, static_schedule

Array = npt.NDArray[np.float64]
Note = Callable[[str], None]
REACT_SEED = 300_000  # randomised imitation episodes: REACT_SEED + seed x 1000 + k
ASSIGN_SEED = 90_000  # a regime's validation episodes (training seeds, see static_search)
ASSIGN_EPISODES = 8
ALGORITHM = "regime-imitation"


@dataclass(frozen=True)
class ReactingArgs:
    regimes: tuple[Regime, ...]
    randomisation: Randomisation = field(default_factory=Randomisation)
    search: SearchArgs = field(default_factory=regime_args)
    episodes: int = 40  # randomised episodes played by the teacher
    dagger_episodes: int = 20  # then played by the actor, labelled by the teacher
    bc_steps: int = 3_000
    hidden: int = 64
    observe_load: bool = False
    seed: int = 0
    static: SearchArgs | None = None  # the search on the scenario itself (its default)
    with_static: bool = True  # the scenario's best static schedule is a candidate too


@dataclass
class ReactingResult:
    teacher: RegimeTeacher
    actor: Actor
    card: PolicyCard
    policy: ActorPolicy  # the actor as a policy, in this process
    directory: Path | None
    scores: list[float]  # each regime's schedule's score on its validation episodes


def regime_teacher(
    base: Scenario,
    regimes: Sequence[Regime],
    search: SearchArgs,
    cache: Path | None = None,
    note: Note | None = None,
    extra: Sequence[Array] = (),
) -> tuple[RegimeTeacher, list[float]]:
    """The teacher of ``regimes``: each one's schedule searched (or read from the cache),
    then, per regime, the best of those schedules and ``extra`` on that regime's own
    validation episodes (``assign``); returns it and each regime's validation score."""
    from agent.envs.coordination import layout_of

    found = [searched_schedule(stationary(base, r), search, cache, note)[0] for r in regimes]
    chosen, scores = assign(base, regimes, [*found, *extra], search)
    config = base.traffic.config
    teacher = RegimeTeacher(
        layout_of(base), regimes, chosen, config.flow_dr_mean, base.run_duration
    )
    return teacher, scores


def assign(
    base: Scenario, regimes: Sequence[Regime], candidates: Sequence[Array], search: SearchArgs
) -> tuple[list[Array], list[float]]:
    """Per regime, the candidate schedule with the best success ratio on the regime held
    for ``search.steps`` steps, over ``ASSIGN_EPISODES`` episodes from ``ASSIGN_SEED``."""
    from agent.envs.coordination import CoordinationEnv

    seeds = list(range(ASSIGN_SEED, ASSIGN_SEED + ASSIGN_EPISODES))
    chosen, scores = [], []
    for state in regimes:
        env = CoordinationEnv(stationary(base, state), episode_steps=search.steps)
        values = [float(episode_scores(env, w, seeds, search.steps).mean()) for w in candidates]
        best = int(np.argmax(values))
        chosen.append(candidates[best])
        scores.append(values[best])
    return chosen, scores


Chooser = Callable[[Observation], Decision]


class ActorPolicy:
    """A torch actor behind ``predict`` (what the saved policy does, without a file)."""

    def __init__(self, actor: Actor, layout: CoordinationLayout, threshold: float) -> None:
        self.name = ALGORITHM
        self.actor, self.layout, self.threshold = actor, layout, threshold

    def weights(self, observation: Observation) -> Array:
        with torch.no_grad():
            obs = torch.from_numpy(self.layout.observe(observation))[None]
            raw = self.actor(obs)[0].numpy().astype(np.float64)
        return postprocess(raw.reshape(self.layout.action_shape), self.threshold)

    def predict(self, observation: Observation) -> Decision:
        return self.layout.decision(self.weights(observation), self.name)


def play(
    scenario: Scenario,
    teacher: RegimeTeacher,
    observe: Callable[[Observation], npt.NDArray[np.float32]],
    seed: int,
    acting: Chooser | None = None,
    failures: bool = False,
) -> tuple[list[npt.NDArray[np.float32]], list[int]]:
    """One episode of ``scenario`` played by ``acting`` (default: the teacher): each
    step's observation vector and the teacher's regime for it, chosen from the ingress
    rates alone unless ``failures`` (the actor's observation does not show them)."""
    sim = Simulator(scenario, seed=seed)
    observation = sim.observation
    vectors, labels = [], []
    for _ in range(scenario.steps):
        label = teacher.choose(observation, failures)
        vectors.append(observe(observation).copy())
        labels.append(label)
        played = teacher.predict(observation)
        decision = played if acting is None else acting(observation)
        observation = sim.step(decision).observation
    return vectors, labels


def episodes_data(
    base: Scenario,
    teacher: RegimeTeacher,
    observe: Callable[[Observation], npt.NDArray[np.float32]],
    spec: Randomisation,
    seeds: range,
    acting: Chooser | None = None,
) -> tuple[list[npt.NDArray[np.float32]], list[int]]:
    vectors: list[npt.NDArray[np.float32]] = []
    labels: list[int] = []
    for seed in seeds:
        drawn = randomised(base, random.Random(seed), spec)
        more, chosen = play(drawn, teacher, observe, seed, acting)
        vectors += more
        labels += chosen
    return vectors, labels


def fit(
    actor: Actor,
    vectors: list[npt.NDArray[np.float32]],
    labels: list[int],
    schedules: Sequence[Array],
    steps: int,
    seed: int,
) -> float:
    """Behaviour cloning: cross-entropy between the actor's rows and the labelled regime's
    schedule; returns the last batch's loss."""
    torch.set_num_threads(1)  # a tiny network: more threads only spin against each other
    observations = torch.from_numpy(np.stack(vectors))
    index = torch.tensor(labels)
    n = schedules[0].shape[-1]
    goals = torch.from_numpy(np.stack(schedules).astype(np.float32)).reshape(len(schedules), -1, n)
    optimiser = torch.optim.Adam(actor.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(seed)
    loss = torch.zeros(())
    for _ in range(steps):
        batch = torch.randint(0, len(observations), (128,), generator=generator)
        log_p = torch.log_softmax(actor.logits(observations[batch]), dim=-1)
        loss = -(goals[index[batch]] * log_p).sum(-1).mean()
        optimiser.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimiser.step()
    return float(loss.item())


def train_reacting(
    base: Scenario,
    args: ReactingArgs,
    out: Path | None = None,
    cache: Path | None = None,
    note: Note | None = None,
) -> ReactingResult:
    """Regimes, teacher, imitation (see the module); the policy saved in ``out``."""
    torch.manual_seed(args.seed)
    statics = []
    if args.with_static:
        statics.append(static_schedule(base, args.static, cache, note, args.search)[0])
    teacher, scores = regime_teacher(base, args.regimes, args.search, cache, note, statics)
    config = default_config(base)[0].model_copy(
        update={
            "actor_hidden_layer_nodes": [args.hidden],
            "observation_space": ["ingress_traffic", "node_load"]
            if args.observe_load
            else ["ingress_traffic"],
        }
    )
    env = make_env(base, config, args.seed)
    actor = Actor(env.layout.obs_size, env.layout.n_nodes, len(env.layout.rows), [args.hidden])
    first = REACT_SEED + args.seed * 1_000
    vectors, labels = episodes_data(
        base, teacher, env.layout.observe, args.randomisation, range(first, first + args.episodes)
    )
    loss = fit(actor, vectors, labels, teacher.schedules, args.bc_steps, args.seed)
    if note is not None:
        note(f"imitation: {len(vectors)} observations, loss {loss:.4f}")
    settings = TrainSettings(base, config, args.bc_steps, args.seed)
    extra = {"metrics": {f"regime_{k}_score": round(s, 4) for k, s in enumerate(scores)}}
    card = make_card(env, settings, ALGORITHM, extra)
    policy = ActorPolicy(actor, env.layout, config.threshold)
    if args.dagger_episodes:
        start = first + args.episodes
        more, chosen = episodes_data(
            base,
            teacher,
            env.layout.observe,
            args.randomisation,
            range(start, start + args.dagger_episodes),
            policy.predict,
        )
        loss = fit(
            actor, vectors + more, labels + chosen, teacher.schedules, args.bc_steps, args.seed
        )
        if note is not None:
            note(f"imitation with the actor's own episodes: loss {loss:.4f}")
    directory = None
    if out is not None:
        directory = out / "best"
        save_policy(directory, actor, card)
    return ReactingResult(teacher, actor, card, policy, directory, scores)
