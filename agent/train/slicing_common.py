"""What the slicing trainers (DDPG, ``agent.train.slicing_ddpg``; MADDPG,
``agent.train.slicing_maddpg``) share: soft target updates, the noise schedule, the
evaluation that keeps the actor of least regret, the policy's card and the run's
configuration file.

Both train one ``SlaveActor`` (the slave of every slice) and judge it the same way: every
``eval_every`` steps its regret against the exact slave and its ratio to ADMM-OPT on a few
episodes (``agent.train.slicing_probe``); the actor of least regret is the one kept.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from agent.model.slicing import SlicingScenario
from agent.model.slicing_price import Pricing
from agent.policies.slicing.learned import FORMAT, LearnedSlave, save_slave
from agent.train.run_log import CurveLog, save_checkpoint
from agent.train.slicing_nets import SlaveActor, numpy_weights
from agent.train.slicing_probe import SlaveProbe

Report = Callable[[int, float, float], None]  # step, regret, ratio to ADMM-OPT
PROBE_SEED = 10_000_000  # evaluation episodes: PROBE_SEED + seed x 1000 + k


@dataclass(frozen=True)
class Selected:
    """The kept actor's figures on the evaluation episodes (``agent.train.slicing_probe``)."""

    regret: float
    ratio: float


def pricing_of(scenario: SlicingScenario, guess_steps: int) -> Pricing:
    problem = scenario.problem(0)
    return Pricing(problem.utility, problem.capacity, guess_steps)


def noise_at(step: int, steps: int, sigma: float, sigma_final: float) -> float:
    """The exploration noise on the actor's log price at ``step``: linear decay."""
    return sigma + (sigma_final - sigma) * step / steps


def optimizers(
    actor: nn.Module, critic: nn.Module, actor_lr: float, critic_lr: float
) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    return (
        torch.optim.Adam(actor.parameters(), lr=actor_lr),
        torch.optim.Adam(critic.parameters(), lr=critic_lr),
    )


@dataclass
class KeepBest:
    """Evaluates the actor now and then and keeps the one of least regret; logs the
    figures, checkpoints the networks into the run directory and reports progress."""

    scenario: SlicingScenario
    seed: int
    episodes: int
    guess_steps: int
    run: Path | None
    report: Report | None = None
    log: CurveLog = field(init=False)
    probe: SlaveProbe = field(init=False)
    best: float = field(default=math.inf, init=False)
    ratio: float = field(default=0.0, init=False)
    actor: SlaveActor | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.run is not None:
            (self.run / "checkpoints").mkdir(parents=True, exist_ok=True)
        self.log = CurveLog(self.run)
        self.probe = SlaveProbe(self.scenario, self.episodes, PROBE_SEED + self.seed * 1000)

    def evaluate(self, step: int, actor: SlaveActor, critic: nn.Module) -> None:
        slave = LearnedSlave(numpy_weights(actor), {"guess_steps": self.guess_steps})
        regret, score = self.probe.regret(slave), self.probe.slave_ratio(slave)
        self.log.add({"step": step, "slave_regret": regret, "success_ratio": score})
        if regret < self.best or self.actor is None:
            self.best, self.ratio, self.actor = regret, score, copy.deepcopy(actor)
        if self.run is not None:
            modules = {"actor": actor, "critic": critic}
            save_checkpoint(self.run / "checkpoints" / f"step{step}.pt", modules, step)
        if self.report is not None:
            self.report(step, regret, score)

    def result(self, actor: SlaveActor) -> tuple[SlaveActor, Selected]:
        """The kept actor (``actor`` itself when nothing was evaluated) and its figures."""
        self.log.close()
        return self.actor or copy.deepcopy(actor), Selected(self.best, self.ratio)


def save_slave_policy(
    directory: Path,
    actor: SlaveActor,
    scenario: SlicingScenario,
    algorithm: str,
    args: Any,
    selected: Selected,
) -> None:
    """``directory``: the slave's weights and a card saying how it was trained."""
    card = {
        "format": FORMAT,
        "hidden": args.hidden,
        "utility": actor.pricing.form.value,
        "guess_steps": actor.pricing.guess_steps,
        "scenario": scenario.name,
        "users": actor.users,
        "capacity": actor.pricing.capacity,
        "algorithm": algorithm,
        "training": asdict(args),
        "eval_slave_regret": round(selected.regret, 6),
        "eval_ratio_to_admm_opt": round(selected.ratio, 6),
    }
    save_slave(directory, numpy_weights(actor), card)


def write_config(run: Path, scenario: SlicingScenario, algorithm: str, args: Any) -> None:
    """``run/config.json``: the scenario, the algorithm and every training argument."""
    (run / "checkpoints").mkdir(parents=True, exist_ok=True)
    config = {"scenario": scenario.source, "algorithm": algorithm, "args": asdict(args)}
    (run / "config.json").write_text(json.dumps(config, indent=2) + "\n")
