"""Progress of a training run: every phase reports (start, progress, end), the run directory
exists before the first phase, the phases' times add up within the total; the printer's
terminal and plain modes; the warning for a budget that ends before the actor's first
update."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from agent.model.scenario import load_scenario
from agent.train import ddpg, td3
from agent.train.coordination_common import DeepCoordConfig, TrainSettings
from agent.train.coordination_config import budget_warning, first_actor_update
from agent.train.progress import PhaseTracker, ProgressEvent, ProgressPrinter, duration
from tests.conftest import TOPOLOGIES

TRIANGLE = TOPOLOGIES / "scenarios" / "triangle.yaml"


def warm_config(**extra: object) -> DeepCoordConfig:
    return DeepCoordConfig.model_validate(
        {
            "episode_steps": 20,
            "eval_every": 40,
            "eval_episodes": 1,
            "nb_steps_warmup_critic": 10,
            "nb_steps_warmup_actor": 20,
            "batch_size": 8,
            "pretrain_search_iterations": 2,
            "pretrain_search_population": 4,
            "pretrain_search_steps": 10,
            "pretrain_bc_steps": 30,
            **extra,
        }
    )


def test_a_short_run_reports_every_phase_and_its_time(tmp_path: Path) -> None:
    events: list[ProgressEvent] = []
    dirs_at_first_event: list[bool] = []
    settings = TrainSettings(load_scenario(TRIANGLE), warm_config(), 80, seed=1, out=tmp_path)

    def record(event: ProgressEvent) -> None:
        if not events:
            dirs_at_first_event.append(settings.run_dir is not None and settings.run_dir.is_dir())
        events.append(event)

    settings.progress = record
    result = ddpg.train(settings)
    assert dirs_at_first_event == [True]
    phases = list(dict.fromkeys(e.phase for e in events))
    assert phases == ["search", "imitate", "train", "save"]
    for phase in phases:
        mine = [e for e in events if e.phase == phase]
        assert not mine[0].finished and mine[0].done == 0  # announced before it works
        assert mine[-1].finished and mine[-1].done == mine[-1].total
        assert [e.finished for e in mine].count(True) == 1
        assert [e.done for e in mine] == sorted(e.done for e in mine)
    search = [e for e in events if e.phase == "search"]
    assert search[-1].total == 2 * 4 + 1 and search[-1].best is not None
    train = [e for e in events if e.phase == "train"]
    assert train[-1].total == 80 and train[-1].best == pytest.approx(result.best_success)
    assert set(result.phase_s) == {"search", "imitate", "train", "save"}
    assert result.total_wall_s >= sum(result.phase_s.values()) > 0
    assert result.wall_s == pytest.approx(result.phase_s["train"])
    assert result.card.training.phase_s.keys() >= {"search", "imitate", "train"}


def test_without_warm_start_only_training_and_saving_report() -> None:
    events: list[ProgressEvent] = []
    config = warm_config(pretrain_search_iterations=0)
    settings = TrainSettings(load_scenario(TRIANGLE), config, 40, seed=0)
    settings.progress = events.append
    td3.train(settings)
    assert list(dict.fromkeys(e.phase for e in events)) == ["train", "save"]


def test_tracker_throttles_updates_and_records_the_phase_time() -> None:
    events: list[ProgressEvent] = []
    times: dict[str, float] = {}
    tracker = PhaseTracker(events.append, "train", 1000, "steps", times, min_interval=3600)
    for step in range(1, 1001):
        tracker.update(step, best=step / 1000)
    elapsed = tracker.finish()
    assert len(events) == 2  # the start and the end; the rest fell inside the interval
    assert events[-1].finished and events[-1].best == 1.0
    assert times == {"train": elapsed}


def test_eta_and_line() -> None:
    event = ProgressEvent("search", 25, 100, "schedules", 10.0, 0.8123, "iteration 2/4")
    assert event.eta_s == pytest.approx(30.0)
    assert event.line() == (
        "warm-start search: 25/100 schedules, best 0.8123, 10s elapsed, ETA 30s, iteration 2/4"
    )
    assert ProgressEvent("train", 0, 10, "steps", 1.0).eta_s is None
    assert ProgressEvent("save", 0, 0, "", 2.0, finished=True).line() == "saving: done in 2s"
    assert [duration(s) for s in (4.4, 185, 3720)] == ["4s", "3m05s", "1h02m"]


def test_printer_plain_lines_and_terminal_line() -> None:
    plain = io.StringIO()
    printer = ProgressPrinter(plain, tty=False, every_s=3600)
    for done in range(0, 5):
        printer(ProgressEvent("train", done, 4, "steps", float(done)))
    printer(ProgressEvent("train", 4, 4, "steps", 4.0, finished=True))
    lines = plain.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].startswith("training: 0/4") and "done in" in lines[1]
    assert "\r" not in plain.getvalue()
    term = io.StringIO()
    printer = ProgressPrinter(term, tty=True)
    printer(ProgressEvent("train", 1, 4, "steps", 1.0))
    printer(ProgressEvent("train", 4, 4, "steps", 4.0, finished=True))
    assert term.getvalue().count("\r") == 2 and term.getvalue().endswith("\n")


def test_budget_warning_when_steps_end_before_the_first_actor_update() -> None:
    config = warm_config(nb_steps_warmup_actor=1000)
    assert first_actor_update(config, "ddpg") == 1001
    assert first_actor_update(warm_config(), "ddpg") == 21
    assert first_actor_update(warm_config(batch_size=64), "sac") == 64
    warning = budget_warning(config, "ddpg", 300)
    assert warning is not None and "step 1001" in warning and "warm start alone" in warning
    cold = budget_warning(warm_config(pretrain_bc_steps=0, nb_steps_warmup_actor=500), "td3", 9)
    assert cold is not None and "untrained actor" in cold
    assert budget_warning(config, "ddpg", 1001) is None
