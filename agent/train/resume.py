"""Where a coordination run starts: afresh (warm start, then training from step 0) or where
a stopped run left off.

``TrainSettings.resume`` is a checkpoint (``checkpoints/step<N>.pt``) or a run directory:
its latest checkpoint, or, when it stopped before the first one, its searched schedule
(``checkpoints/teacher.pt``), so a resumed run never searches again. A checkpoint holds
every network and optimiser, the step, the warm start's teacher score and the best actor so
far with its evaluation; it is loaded with ``weights_only=True`` (tensors and plain values
only). The replay buffer is not kept: it refills after the resume, and the warm-ups count
from there (``first_actor_update``).

After the warm start, ``checkpoints/step0.pt`` is written, so that a run stopped during
training resumes without the warm start.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from agent.envs.coordination import CoordinationEnv
from agent.model.errors import InputError
from agent.policies.coordination.network import Actor
from agent.train.coordination_common import TrainSettings, evaluate_actor, warm_start
from agent.train.run_log import CurveLog, load_checkpoint, save_checkpoint

STEP_FILE = re.compile(r"step(\d+)\.pt")


def latest_checkpoint(run: Path) -> Path | None:
    """The run directory's checkpoint with the most steps, if any."""
    found = [
        (int(m.group(1)), p)
        for p in (run / "checkpoints").glob("step*.pt")
        if (m := STEP_FILE.fullmatch(p.name))
    ]
    return max(found)[1] if found else None


def resumed_step(resume: Path) -> int:
    """The step a resumed run continues from: its checkpoint's (0: only the search ran)."""
    checkpoint = _checkpoint(resume)
    if checkpoint is None:
        return 0
    try:
        return int(torch.load(checkpoint, weights_only=True)["step"])
    except Exception as exc:  # torch raises several kinds for a file that is not one
        problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(checkpoint, "", f"not a training checkpoint: {problem}") from None


def eval_seed(settings: TrainSettings) -> int:
    """The first seed of the evaluations during training (never a test seed)."""
    return 1_000_000 + settings.seed * 1_000


@dataclass
class RunState:
    """What a checkpoint carries beside the modules."""

    step: int
    teacher: float | None
    best: float
    best_actor: Actor

    def offer(self, score: float, actor: Actor) -> None:
        """Keep ``actor`` when it beats the best so far."""
        if score > self.best:
            self.best, self.best_actor = score, copy.deepcopy(actor)

    def checkpoint(self, run: Path | None, step: int, modules: dict[str, Any]) -> None:
        if run is None:
            return
        extra: dict[str, Any] = {"teacher": self.teacher, "best": self.best}
        extra["best_actor"] = self.best_actor.state_dict()
        save_checkpoint(run / "checkpoints" / f"step{step}.pt", modules, step, extra)


def start_run(
    settings: TrainSettings,
    env: CoordinationEnv,
    actor: Actor,
    modules: dict[str, Any],
    copies: list[nn.Module],
) -> RunState:
    """Afresh: the warm start, then each of ``copies`` (target networks, the imitation
    anchor) takes the actor's weights, the actor is evaluated and ``step0.pt`` written.
    Resumed: everything from the checkpoint (a copy it lacks takes the actor's weights)."""
    checkpoint = _checkpoint(settings.resume)
    if checkpoint is None:
        teacher = warm_start(env, actor, settings)
        for module in copies:
            module.load_state_dict(actor.state_dict())
        score = evaluate_actor(env, actor, settings.config.eval_episodes, eval_seed(settings))
        state = RunState(0, teacher, score, copy.deepcopy(actor))
        state.checkpoint(settings.run_dir, 0, modules)
        return state
    step, missing, extra = load_checkpoint(checkpoint, modules)
    for name in missing:
        module = modules[name]
        if isinstance(module, nn.Module) and module in copies:
            module.load_state_dict(actor.state_dict())
    best_actor = copy.deepcopy(actor)
    if "best_actor" in extra:
        best_actor.load_state_dict(extra["best_actor"])
        best = float(extra["best"])
    else:  # a checkpoint without them: its actor is the best known
        best = evaluate_actor(env, actor, settings.config.eval_episodes, eval_seed(settings))
    teacher = extra.get("teacher")
    return RunState(step, None if teacher is None else float(teacher), best, best_actor)


def _checkpoint(resume: Path | None) -> Path | None:
    if resume is None or resume.is_file():
        return resume
    return latest_checkpoint(resume)  # a run directory; None: only its search, if that


def evaluate_and_checkpoint(
    settings: TrainSettings,
    env: CoordinationEnv,
    actor: Actor,
    state: RunState,
    modules: dict[str, Any],
    log: CurveLog,
    step: int,
) -> None:
    """The periodic evaluation: score the deterministic actor, keep the best, write the
    checkpoint and the curves so far."""
    score = evaluate_actor(env, actor, settings.config.eval_episodes, eval_seed(settings))
    log.add({"step": step, "success_ratio": score})
    state.offer(score, actor)
    state.step = step
    state.checkpoint(settings.run_dir, step, modules)
    log.flush()
