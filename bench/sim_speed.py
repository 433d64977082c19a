"""The simulator's speed as a user runs it: whole processes, side by side with coord-sim.

Each side runs in a process of its own, from interpreter start to exit, on DeepCoord's
Abilene scenario with five ingress nodes, the same episodes of the same number of steps
from the same seeds:

- ours: ``agent sim --network ... --episodes E --steps S --seed SEED --format json``
  with shortest path, load balance (coord-sim's weighted round robin, the default for
  its three files) and the shipped trained policy (per-flow weighted choice, the
  semantics it was trained for, ``--schedule random``);
- coord-sim 2.2.1 (its own virtual environment, see ``sim_vs_coordsim.py``) running
  load balance and the DeepCoord authors' shortest path, one Simulator, ``init(seed)``
  per episode, this very file in ``--reference`` mode.

Ratios are coord-sim's wall time over ours for the same work (the flows generated
differ by the random streams only: same distributions, not the same draws); each policy
of ours against coord-sim's matching policy, the trained policy against coord-sim's load
balance. ``--rounds`` alternates all the runs that many times and keeps each one's best.

    python bench/sim_speed.py                       # 20 episodes x 200 steps, 1 round
    python bench/sim_speed.py --rounds 3 --episodes 20
    python bench/sim_speed.py --training [--network FILE ...] [--train-steps 4000] [--threads N]

``--training`` measures training throughput instead (see ``training_rate``; Abilene with
three ingress nodes unless ``--network`` names other networks) and writes
bench/out/training_speed.md.

Writes bench/out/sim_speed.md. Only the standard library is imported at the top: the
``--reference`` mode runs under coord-sim's interpreter.
"""

from __future__ import annotations

import argparse
import importlib
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RES = HERE.parent / "topologies/deepcoord/res"
NETWORK = RES / "networks/abilene/abilene-in5-rand-cap0-2.graphml"
SERVICE = RES / "service_functions/abc.yaml"
TRAFFIC = RES / "config/simulator/rand-arrival10_det-size001_duration100.yaml"
TRAINED = "abilene-in5-rand-cap0-2"
TRAINING_NETWORK = RES / "networks/abilene/abilene-in3-rand-cap0-2.graphml"
AGENT = HERE.parent / "topologies/policies/coordination/agent-ddpg-switch.yaml"
FIRST_SEED = 1234
OURS = {  # label -> (policy, extra options)
    "shortest-path": ("shortest-path", []),
    "load-balance": ("load-balance", []),
    "trained": (TRAINED, ["--schedule", "random"]),
}
MATCH = {
    "shortest-path": "shortest-path",
    "load-balance": "load-balance",
    "trained": "load-balance",
}
Run = dict[str, Any]


def timed(command: list[str]) -> tuple[float, float, str]:
    """Wall and CPU seconds (user + system, children) of ``command``, and its stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out


def agent_command() -> list[str]:
    script = Path(sys.executable).parent / "agent"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from agent.cli.main import main; main()"]


def run_ours(label: str, episodes: int, steps: int) -> Run:
    policy, extra = OURS[label]
    files = ["--network", str(NETWORK), "--service", str(SERVICE), "--traffic", str(TRAFFIC)]
    command = [*agent_command(), "sim", *files, "--policy", policy, *extra]
    command += ["--episodes", str(episodes), "--steps", str(steps), "--seed", str(FIRST_SEED)]
    wall, cpu, out = timed([*command, "--format", "json"])
    summary = json.loads(out)
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "generated": summary["generated"],
        "success": summary["success_ratio"],
    }


def run_reference(python: Path, policy: str, episodes: int, steps: int) -> Run:
    command = [str(python), str(Path(__file__).resolve()), "--reference", policy]
    command += ["--episodes", str(episodes), "--steps", str(steps)]
    wall, cpu, out = timed(command)
    result = json.loads(out.splitlines()[-1])
    return {"wall_s": wall, "cpu_s": cpu, **result}


# ------------------------------------------------------------------ coord-sim's side
def reference_main(policy: str, episodes: int, steps: int) -> None:
    """Inside coord-sim's environment: ``episodes`` episodes of ``policy`` from
    FIRST_SEED on; prints one JSON line with the flows and the success ratio."""
    import logging

    simulator = importlib.import_module("siminterface.simulator")  # coord-sim's, untyped
    logging.disable(logging.WARNING)
    sim = simulator.Simulator(str(NETWORK), str(SERVICE), str(TRAFFIC))
    generated = successful = 0
    for episode in range(episodes):
        state = sim.init(FIRST_SEED + episode)
        action = reference_action(sim, state, policy)
        for _ in range(steps):
            sim.apply(action)
        metrics = sim.metrics.get_metrics()
        generated += metrics["generated_flows"]
        successful += metrics["processed_flows"]
    print(json.dumps({"generated": generated, "success": successful / max(generated, 1)}))


def reference_action(sim: Any, state: Any, policy: str) -> Any:
    """coord-sim's action for ``policy``: load balance as ours (every SF on every node
    with capacity, equal weights to each of them from every node) or the DeepCoord
    authors' shortest path (``coordsim_sp.py``)."""
    action_type = importlib.import_module("spinterface").SimulatorAction
    nodes = [n["id"] for n in state.network["nodes"]]
    cap = {n: sim.network.nodes[n]["cap"] for n in nodes}
    sfs, sfcs = list(state.service_functions), list(state.sfcs)
    if policy == "shortest-path":
        sys.path.insert(0, str(HERE))
        authors = importlib.import_module("coordsim_sp")
        ingress = [n[0] for n in sim.ing_nodes]
        return authors.shortest_path_action(sim.network, nodes, sfs, sfcs, ingress, cap)
    usable = [n for n in nodes if cap[n] > 0]
    weights = {n: (1.0 / len(usable) if n in usable else 0.0) for n in nodes}
    placement = {n: list(sfs) for n in usable}
    schedule = {u: {c: {f: dict(weights) for f in sfs} for c in sfcs} for u in nodes}
    return action_type(placement, schedule)


# ------------------------------------------------------------------ report
def measure(python: Path, rounds: int, episodes: int, steps: int) -> dict[str, Run]:
    """Every run ``rounds`` times, alternating; each run's lowest wall and lowest CPU
    time over the rounds (a busy machine slows single rounds)."""
    best: dict[str, Run] = {}
    for _ in range(rounds):
        for name in ("coord-sim load-balance", "coord-sim shortest-path", *OURS):
            if name.startswith("coord-sim "):
                run = run_reference(python, name.split(" ")[1], episodes, steps)
            else:
                run = run_ours(name, episodes, steps)
            print(f"{name}: {run['wall_s']:.2f} s wall, {run['cpu_s']:.2f} s CPU", flush=True)
            if name in best:
                run["wall_s"] = min(run["wall_s"], best[name]["wall_s"])
                run["cpu_s"] = min(run["cpu_s"], best[name]["cpu_s"])
            best[name] = run
    return best


def report(best: dict[str, Run], rounds: int, episodes: int, steps: int) -> str:
    lines = [
        f"Abilene, 5 ingress nodes, Poisson arrivals, {episodes} episodes x {steps} steps "
        f"from seed {FIRST_SEED}, whole processes, alternating; the lowest wall and the "
        f"lowest CPU time of {rounds} round(s).",
        "",
        "| run | wall (s) | CPU (s) | flows | flows/s (wall) | success "
        "| coord-sim / ours: wall | CPU |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, run in best.items():
        ratios = ["-", "-"]
        if not name.startswith("coord-sim "):
            reference = best[f"coord-sim {MATCH[name]}"]
            ratios = [
                f"{reference['wall_s'] / run['wall_s']:.1f}x (vs {MATCH[name]})",
                f"{reference['cpu_s'] / run['cpu_s']:.1f}x",
            ]
        cells = [
            name if name.startswith("coord-sim") else f"ours {name}",
            f"{run['wall_s']:.2f}",
            f"{run['cpu_s']:.2f}",
            f"{run['generated']:,}",
            f"{run['generated'] / run['wall_s']:,.0f}",
            f"{100 * run['success']:.2f} %",
            *ratios,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ training throughput
def training_rate(network: Path, steps: int, threads: int | None = None) -> dict[str, float]:
    """DDPG on ``network`` (DeepCoord's service and Poisson traffic, per-flow weighted
    choice) with the shipped policies' agent configuration less its warm start: the
    reinforcement-learning loop's steps per second (environment, learner and the periodic
    evaluation episodes, as the policy cards record it, in wall time and per CPU second of
    the loop: the CPU rate does not depend on what else runs on the machine), and the
    environment's own rate under noisy actions (the simulator stepped as training steps
    it). ``threads``: the run's torch threads (None: the trainer's choice, as
    ``agent train coordination`` makes it; ``threads`` in the result)."""
    import dataclasses

    import numpy as np

    from agent.model.scenario import ScheduleMode, scenario_from_files
    from agent.train import ddpg
    from agent.train.coordination_common import TrainSettings, make_env
    from agent.train.coordination_config import load_deepcoord_config
    from agent.train.progress import ProgressEvent

    scenario = scenario_from_files(network, SERVICE, TRAFFIC)
    scenario = dataclasses.replace(scenario, schedule_mode=ScheduleMode.RANDOM)
    config = load_deepcoord_config(AGENT).model_copy(
        update={"pretrain_search_iterations": 0, "pretrain_bc_steps": 0}
    )
    env = make_env(scenario, config, 0)
    rng = np.random.default_rng(0)
    base = rng.random(env.layout.action_size)
    env.reset(seed=1)
    started = time.process_time()
    for _ in range(1000):
        action = np.clip(base + rng.normal(0.0, 0.05, base.shape), 0.0, 1.0)
        if env.step(action.astype(np.float32))[3]:
            env.reset()
    env_rate = 1000 / (time.process_time() - started)
    loop: dict[str, float] = {}

    def phases(event: ProgressEvent) -> None:  # CPU time at the RL loop's start and end
        if event.phase == "train":
            loop["end" if event.finished else "start"] = time.process_time()
            loop.setdefault("first", loop["start"])

    started = time.process_time()
    settings = TrainSettings(scenario, config, steps, seed=0, progress=phases)
    if threads is not None:
        settings.threads = threads
    result = ddpg.train(settings)
    cpu = time.process_time() - started
    loop_cpu = loop["end"] - loop["first"]
    return {
        "steps_per_s": result.steps_per_s,
        "steps_per_cpu_s": steps / loop_cpu,
        "cpu_s": cpu,
        "env_steps_per_s": env_rate,
        "best": result.best_success,
        "threads": float(settings.threads or 1),
    }


def training_report(networks: list[Path], steps: int, threads: int | None) -> str:
    lines = [
        f"DDPG, {steps} steps (agent-ddpg-switch.yaml without its warm start), torch threads "
        "as the trainer chooses them unless --threads; steps/s of the RL loop as the policy "
        "cards record it (wall) and per CPU second of the loop; the whole run's CPU; "
        "environment alone under noisy actions (CPU time); the best evaluation's success ratio.",
        "",
        "| network | nodes | torch threads | RL loop steps/s (wall) | RL loop steps/s (CPU) "
        "| run CPU (s) | environment steps/s (CPU) | best |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for network in networks:
        rate = training_rate(network, steps, threads)
        nodes = network.read_text(errors="replace").count("<node ")
        lines.append(
            f"| {network.stem} | {nodes} | {rate['threads']:.0f} | {rate['steps_per_s']:,.1f} "
            f"| {rate['steps_per_cpu_s']:,.1f} | {rate['cpu_s']:.1f} "
            f"| {rate['env_steps_per_s']:,.0f} | {rate['best']:.4f} |"
        )
        print(lines[-1], flush=True)
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--reference", choices=["load-balance", "shortest-path"])
    parser.add_argument("--training", action="store_true", help="measure training instead")
    parser.add_argument("--network", type=Path, action="append", help="for --training")
    parser.add_argument("--train-steps", type=int, default=4000)
    parser.add_argument("--threads", type=int, help="for --training: torch threads")
    args = parser.parse_args()
    if args.reference:
        reference_main(args.reference, args.episodes, args.steps)
        return
    if args.training:
        text = training_report(args.network or [TRAINING_NETWORK], args.train_steps, args.threads)
        (HERE / "out").mkdir(exist_ok=True)
        (HERE / "out/training_speed.md").write_text(text)
        print(text)
        return
    sys.path.insert(0, str(HERE))
    from sim_vs_coordsim import ensure_coordsim

    best = measure(ensure_coordsim(), args.rounds, args.episodes, args.steps)
    text = report(best, args.rounds, args.episodes, args.steps)
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    (out / "sim_speed.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
