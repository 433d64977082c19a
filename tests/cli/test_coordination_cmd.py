"""``agent train coordination`` / ``agent eval coordination`` through the agent command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from agent.cli.coordination_cmd import eval_coordination, job_threads, train_coordination
from agent.cli.main import cli
from tests.conftest import DEEPCOORD, TOPOLOGIES

SIM = DEEPCOORD / "config" / "simulator"


def files(ingress: int) -> list[str]:
    net = DEEPCOORD / "networks" / "abilene" / f"abilene-in{ingress}-rand-cap0-2.graphml"
    return [
        "--network",
        str(net),
        "--service",
        str(DEEPCOORD / "service_functions" / "abc.yaml"),
        "--traffic",
        str(SIM / "rand-arrival10_det-size001_duration100.yaml"),
    ]


def agent_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(
        "agent_type: TD3\nepisode_steps: 40\neval_every: 80\neval_episodes: 1\n"
        "nb_steps_warmup_critic: 20\nnb_steps_warmup_actor: 20\nbatch_size: 16\n"
    )
    return path


def test_train_then_eval_against_baselines(tmp_path: Path) -> None:
    out = tmp_path / "results"
    args = ["train", "coordination", *files(1), "--agent", str(agent_yaml(tmp_path))]
    result = CliRunner().invoke(cli, [*args, "--steps", "80", "--seed", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["algorithm"] == "td3"
    run = Path(summary["run"])
    assert run.name.startswith("abilene-in1-rand-cap0-2_") and run.name.endswith("_seed3")
    assert len(list((run / "inputs").iterdir())) == 4
    policy = str(run / "best")
    args = ["eval", "coordination", *files(1), "--policy", policy, "--policy", "shortest-path"]
    opts = ["--episodes", "2", "--steps", "20", "--format", "json", "--out", str(tmp_path / "ev")]
    result = CliRunner().invoke(cli, [*args, *opts])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report["policies"]) == {policy, "shortest-path"}
    for entry in report["policies"].values():
        assert 0 <= entry["success_ratio"] <= 1 and entry["delay_ms"] >= 0
        assert "NODE_CAP" in entry["drops"]
    written = {p.name for p in (tmp_path / "ev").iterdir()}
    assert {"coordination_eval.csv", "coordination_eval.md", "coordination_eval.png"} <= written
    # --generalize: another traffic file, same network
    gen = ["--generalize", str(SIM / "rand-mmp-arrival12-8_det-size001_dur100.yaml")]
    result = CliRunner().invoke(cli, [*args, "--episodes", "1", "--steps", "10", *gen])
    assert result.exit_code == 0, result.output
    assert "| shortest-path |" in result.output and "rand-mmp" in result.output
    # resume from the last checkpoint
    checkpoint = sorted((run / "checkpoints").iterdir())[-1]
    args = ["train", "coordination", *files(1), "--agent", str(agent_yaml(tmp_path))]
    more = ["--steps", "120", "--out", str(out), "--resume", str(checkpoint)]
    result = CliRunner().invoke(cli, [*args, *more])
    assert result.exit_code == 0, result.output


def test_eval_refuses_a_policy_for_another_topology(tmp_path: Path) -> None:
    out = tmp_path / "results"
    args = ["train", "coordination", *files(2), "--agent", str(agent_yaml(tmp_path))]
    result = CliRunner().invoke(cli, [*args, "--steps", "40", "--out", str(out)])
    assert result.exit_code == 0, result.output
    policy = str(Path(json.loads(result.stdout.strip().splitlines()[-1])["run"]) / "best")
    args = ["eval", "coordination", *files(3), "--policy", policy, "--episodes", "1"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert "trained for network 'abilene-in2-rand-cap0-2'" in result.output
    assert "ingress" in result.output


def test_unknown_policy_and_bad_agent_yaml(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["eval", "coordination", *files(1), "--policy", "nope"])
    assert result.exit_code == 2 and "no coordination policy named 'nope'" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("objective: 'only-flow'\nlearning_rat: 0.1\n")
    args = ["train", "coordination", *files(1), "--agent", str(bad), "--steps", "5"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and "learning_rat" in result.output


TRIANGLE = TOPOLOGIES / "scenarios" / "triangle.yaml"


def warm_agent_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "warm.yaml"
    path.write_text(
        "episode_steps: 20\neval_every: 40\neval_episodes: 1\nnb_steps_warmup_critic: 10\n"
        "nb_steps_warmup_actor: 100\nbatch_size: 8\npretrain_search_iterations: 2\n"
        "pretrain_search_population: 4\npretrain_search_steps: 10\npretrain_bc_steps: 30\n"
    )
    return path


def test_train_reports_each_phase_and_the_whole_wall_time(tmp_path: Path) -> None:
    out = tmp_path / "results"
    args = ["train", "coordination", str(TRIANGLE), "--agent", str(warm_agent_yaml(tmp_path))]
    result = CliRunner().invoke(cli, [*args, "--steps", "60", "--out", str(out)])
    assert result.exit_code == 0, result.output
    err = result.stderr.splitlines()
    # the budget ends before the actor's first update (warm-up 100): said first, and kept
    assert err[0].startswith("warning: 60 steps end before the actor's first update at step 101")
    assert "run directory" in err[1]
    for label in ("warm-start search", "warm-start imitation", "training", "saving"):
        lines = [line for line in err if line.startswith(f"{label}:")]
        assert len(lines) >= 2 and "done in" in lines[-1], (label, err)
    assert "\r" not in result.stderr  # not a terminal: plain lines
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(summary["phase_s"]) == {"search", "imitate", "train", "save"}
    # every figure is rounded to 0.1 s: the phases may add up to 0.05 s more each
    phases = summary["phase_s"].values()
    assert summary["wall_s"] >= sum(phases) - 0.05 * len(phases)
    assert "warm start alone" in summary["warning"]
    assert Path(summary["run"]).parent == out and (Path(summary["run"]) / "best").is_dir()


def test_the_commands_module_imports_no_torch() -> None:
    code = (
        "import sys, agent.cli.coordination_cmd; "
        "heavy = ('torch', 'matplotlib', 'gymnasium', 'agent.train.'); "
        "print([m for m in sys.modules if m.startswith(heavy)])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_every_option_has_help_and_shows_its_default() -> None:
    shared = {"network", "service", "traffic"}  # agent.cli.common's scenario options
    for command in (train_coordination, eval_coordination):
        ctx = click.Context(command)
        for param in command.params:
            if not isinstance(param, click.Option) or param.name in shared:
                continue
            record = param.get_help_record(ctx)
            assert record is not None and record[1], (command.name, param.name)
            assert param.show_default, (command.name, param.name)
            if param.multiple:
                assert "repeatable" in record[1], param.name
    help_text = CliRunner().invoke(cli, ["eval", "coordination", "--help"]).output
    assert "shortest-path" in help_text and "[default: 30" in help_text


def test_eval_names_its_schedule_semantics_and_lists_every_episode() -> None:
    base = ["eval", "coordination", *files(1), "--policy", "load-balance"]
    base += ["--episodes", "3", "--steps", "30", "--format", "json"]
    runs = {}
    for mode in (None, "round-robin", "random"):
        extra = [] if mode is None else ["--schedule", mode]
        result = CliRunner().invoke(cli, [*base, *extra])
        assert result.exit_code == 0, result.output
        runs[mode] = json.loads(result.stdout)
    # coord-sim's three files keep coord-sim's round robin unless told otherwise
    assert [runs[m]["schedule"] for m in runs] == ["round-robin", "round-robin", "random"]
    assert runs[None]["policies"] == runs["round-robin"]["policies"]
    rr, rand = runs["round-robin"]["policies"]["load-balance"], runs["random"]["policies"]
    episodes = rand["load-balance"]["episode_success"]
    assert len(episodes) == 3 and rr["episode_success"] != episodes
    assert sum(episodes) / 3 == pytest.approx(rand["load-balance"]["success_mean"], abs=1e-5)
    bad = CliRunner().invoke(cli, [*base, "--schedule", "hash"])
    assert bad.exit_code == 2 and "'hash' is not one of" in bad.output


def test_a_bundled_scenario_evaluates_with_switch_semantics() -> None:
    scenario = str(TOPOLOGIES / "scenarios" / "abilene-in1.yaml")
    args = ["eval", "coordination", scenario, "--policy", "greedy", "--episodes", "1"]
    result = CliRunner().invoke(cli, [*args, "--steps", "10"])
    assert result.exit_code == 0, result.output
    assert "random schedule" in result.stdout.splitlines()[0]


def test_training_defaults_to_switch_semantics_and_the_card_says_so(tmp_path: Path) -> None:
    args = ["train", "coordination", *files(1), "--agent", str(agent_yaml(tmp_path))]
    for mode, extra in (("random", []), ("round-robin", ["--schedule", "round-robin"])):
        out = tmp_path / mode
        opts = ["--steps", "40", "--out", str(out), *extra]
        result = CliRunner().invoke(cli, [*args, *opts])
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout.strip().splitlines()[-1])
        assert summary["schedule"] == mode
        card = json.loads((Path(summary["run"]) / "best" / "card.json").read_text())
        assert card["schedule"] == mode
        config = json.loads((Path(summary["run"]) / "config.json").read_text())
        assert config["schedule"] == mode


def test_eval_shows_progress_and_runs_in_processes_without_ray(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = ["eval", "coordination", *files(1), "--policy", "random", "--policy", "greedy"]
    base += ["--episodes", "3", "--steps", "20", "--format", "json"]
    serial = CliRunner().invoke(cli, base)
    assert serial.exit_code == 0, serial.output
    lines = serial.stderr.splitlines()
    assert lines[0].startswith("evaluation: 0/6 episodes") and "done in" in lines[-1]
    monkeypatch.setitem(sys.modules, "ray", None)  # Ray not installed
    parallel = CliRunner().invoke(cli, [*base, "--workers", "2"])
    assert parallel.exit_code == 0, parallel.output
    assert not [line for line in parallel.stderr.splitlines() if line.startswith("note:")]
    assert json.loads(parallel.stdout) == json.loads(serial.stdout)
    cluster = CliRunner().invoke(cli, [*base, "--ray-address", "auto"])  # needs Ray
    assert cluster.exit_code == 0, cluster.output
    notes = [line for line in cluster.stderr.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and notes[0].startswith("note: Ray is not installed")
    assert json.loads(cluster.stdout) == json.loads(serial.stdout)


def test_train_seeds_without_ray_runs_them_in_processes_of_this_machine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    args = ["train", "coordination", str(TRIANGLE), "--agent", str(warm_agent_yaml(tmp_path))]
    args += ["--steps", "20", "--seeds", "3,5", "--workers", "2", "--select-episodes", "1"]
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    assert not [line for line in result.stderr.splitlines() if line.startswith("note:")]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert [s["seed"] for s in summary["seeds"]] == [3, 5] and summary["best_seed"] in (3, 5)
    workers = capfd.readouterr().err  # the pool's processes write to this process's stderr
    assert any(line.startswith("seed 5: training:") for line in workers.splitlines())
    bad = CliRunner().invoke(cli, [*args[:-6], "--seeds", "4-2"])
    assert bad.exit_code == 2 and "--seeds: range '4-2' ends before it starts" in bad.output


def test_threads_are_asked_for_or_chosen_and_the_card_records_them(
    tmp_path: Path, one_torch_thread: None
) -> None:
    args = ["train", "coordination", *files(1), "--agent", str(agent_yaml(tmp_path))]
    for extra, expected in (([], 1), (["--threads", "2"], 2)):  # Abilene: small, one thread
        out = tmp_path / str(expected)
        result = CliRunner().invoke(cli, [*args, "--steps", "40", "--out", str(out), *extra])
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout.strip().splitlines()[-1])
        card = json.loads((Path(summary["run"]) / "best" / "card.json").read_text())
        assert card["training"]["torch_threads"] == expected
    bad = CliRunner().invoke(cli, [*args, "--threads", "0"])
    assert bad.exit_code == 2 and "--threads" in bad.output


def test_several_seeds_get_a_thread_each_unless_asked() -> None:
    assert job_threads(None, 1) is None  # one run: the trainer chooses
    assert job_threads(None, 4) == 1  # side by side or one after the other: the same runs
    assert job_threads(3, 4) == 3 and job_threads(2, 1) == 2  # asked for
