"""Hyperparameter search for the slicing slave (DDPG) with Optuna, and the training YAML.

A study lives in the run directory (``study.db``, SQLite), so ``agent tune slicing`` run
again with the same ``--out`` continues it up to ``--trials`` finished trials. Each trial
trains for ``steps`` steps with the parameters Optuna proposes and is scored by the kept
actor's regret against the exact slave (``agent.train.slicing_probe``; lower is better).
The best trial's parameters are written as ``best.yaml``: a training YAML that
``agent train slicing --config`` reads (``algorithm`` and ``args``, the fields of
``SlicingDDPGArgs``; unknown keys are refused with the file, line and key).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, create_model

from agent.model.slicing import SlicingScenario
from agent.model.yamlfile import load_yaml, require_mapping
from agent.train.slicing_ddpg import SlicingDDPGArgs, train_slicing_ddpg

STUDY = "study.db"
BEST = "best.yaml"


_ARGS: dict[str, Any] = {f.name: (type(f.default), f.default) for f in fields(SlicingDDPGArgs)}
ArgsModel = create_model("SlicingDDPGArgsModel", __config__=ConfigDict(extra="forbid"), **_ARGS)
_FILE: dict[str, Any] = {
    "algorithm": (Literal["ddpg"], "ddpg"),
    "args": (ArgsModel, Field(default_factory=ArgsModel)),
    "regret": (float | None, None),  # what tuning measured, for the reader
    "trials": (int | None, None),
}
TrainingFile = create_model("TrainingFile", __config__=ConfigDict(extra="forbid"), **_FILE)


def load_training_yaml(path: str | Path) -> SlicingDDPGArgs:
    """The DDPG arguments a training YAML sets (the rest at their defaults)."""
    doc = load_yaml(path, "training configuration")
    spec = doc.validate(TrainingFile, require_mapping(doc, "a training configuration"))
    args: BaseModel = spec.args
    return SlicingDDPGArgs(**args.model_dump())


def suggest(trial: Any, base: SlicingDDPGArgs) -> SlicingDDPGArgs:
    """The parameters one trial tries."""
    return replace(
        base,
        actor_lr=trial.suggest_float("actor_lr", 1e-4, 3e-3, log=True),
        critic_lr=trial.suggest_float("critic_lr", 3e-4, 5e-3, log=True),
        sigma=trial.suggest_float("sigma", 0.01, 0.1, log=True),
        tau=trial.suggest_float("tau", 0.002, 0.05, log=True),
        hidden=trial.suggest_categorical("hidden", [32, 64, 128]),
        uniform_targets=trial.suggest_float("uniform_targets", 0.0, 0.6),
    )


@dataclass(frozen=True)
class TuneResult:
    best_regret: float
    best_args: SlicingDDPGArgs
    finished: int
    path: Path


def tune_slicing(
    scenario: SlicingScenario,
    run: Path,
    trials: int,
    base: SlicingDDPGArgs,
    report: Callable[[int, float], None] | None = None,
) -> TuneResult:
    """Run the study in ``run`` until it has ``trials`` finished trials; write best.yaml."""
    import optuna

    run.mkdir(parents=True, exist_ok=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name="slicing-ddpg",
        storage=f"sqlite:///{run / STUDY}",
        direction="minimize",
        load_if_exists=True,
    )
    # a resumed study gets a sampler seeded past its trials, not the first run's proposals
    study.sampler = optuna.samplers.TPESampler(seed=base.seed + len(study.trials))

    def objective(trial: Any) -> float:
        args = suggest(trial, base)
        _, selected = train_slicing_ddpg(scenario, args, None)
        if report is not None:
            report(trial.number, selected.regret)
        return selected.regret

    def finished() -> int:
        return sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)

    missing = trials - finished()
    if missing > 0:
        study.optimize(objective, n_trials=missing)
    best_args = suggest(optuna.trial.FixedTrial(study.best_trial.params), base)
    path = run / BEST
    document = {
        "algorithm": "ddpg",
        "args": asdict(best_args),
        "regret": float(study.best_value),
        "trials": finished(),
    }
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return TuneResult(float(study.best_value), best_args, finished(), path)
