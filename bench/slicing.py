"""Slicing at scale: 20 slices x 50 users drawn like the paper's setting
(``topologies/slicing/paper-20x50.yaml``).

For each instance (seeds S..S+K-1): one decision (all ADMM iterations) by ADMM-DRL (the
learned slave, numpy) and by ADMM-OPT (the exact slave), each timed as the best of
``--repeats`` runs; utility of each projected allocation, the ratio ADMM-DRL / ADMM-OPT and
the time ratio. Writes bench/out/slicing.md (and prints it).

With ``--export``: the inference latency of exported actors instead (one observation per
call, median of ``--repeats`` x 200 calls): the shipped paper slave and a shipped
coordination actor, in torch, TorchScript and onnxruntime (and the numpy forward the
policies use).

    python bench/slicing.py [--instances 10] [--policy DIR]
    python bench/slicing.py --export
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

from agent.model.slicing import load_slicing_scenario
from agent.model.slicing_utility import Layout, weighted_utility
from agent.policies.slicing.admm import project_capacity
from agent.policies.slicing.learned import SHIPPED, load_slave
from agent.policies.slicing.methods import admm_drl, admm_opt

HERE = Path(__file__).resolve().parent
SCENARIO = HERE.parent / "topologies" / "slicing" / "paper-20x50.yaml"


def timed(call: Callable[[], np.ndarray], repeats: int) -> tuple[np.ndarray, float]:
    best, out = float("inf"), np.zeros(0)
    for _ in range(repeats):
        start = time.perf_counter()
        out = call()
        best = min(best, time.perf_counter() - start)
    return out, best * 1e3


def per_call_us(call: Callable[[], object], repeats: int, calls: int = 200) -> float:
    """Median over ``repeats`` of the mean time of ``calls`` calls, in microseconds."""
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            call()
        times.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(times)


def latency_row(name: str, repeats: int) -> str:
    """One actor's row: per-call latency in torch, TorchScript, onnxruntime and numpy."""
    import onnxruntime
    import torch

    from agent.model.slicing_price import Slices
    from agent.policies.slicing.learned import actor_forward
    from agent.train.export import export, load_exportable, sample_inputs
    from agent.train.slicing_nets import SlaveActor

    exportable = load_exportable(SHIPPED / name if (SHIPPED / name).is_dir() else name)
    obs = sample_inputs(exportable, 1)
    tensor = torch.from_numpy(obs)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = export(exportable, "onnx", Path(tmp) / "a.onnx")
        script_path = export(exportable, "torchscript", Path(tmp) / "a.pt")
        session = onnxruntime.InferenceSession(str(onnx_path), options)
        script = torch.jit.load(str(script_path))  # type: ignore[no-untyped-call]
    with torch.no_grad():
        eager = per_call_us(lambda: exportable.module(tensor), repeats)
        scripted = per_call_us(lambda: script(tensor), repeats)
    ort = per_call_us(lambda: session.run(None, {"observation": obs}), repeats)
    numpy_us = "-"
    module = exportable.module
    if isinstance(module, SlaveActor):
        weights = load_slave(SHIPPED / name).weights
        rows = Slices.of(obs.astype(np.float64), module.users)
        us = per_call_us(lambda: actor_forward(weights, rows, module.pricing), repeats)
        numpy_us = f"{us:.0f}"
    cells = f"{eager:.0f} | {scripted:.0f} | {ort:.0f} | {numpy_us}"
    return f"| {exportable.description} | {cells} |"


def export_latency(repeats: int) -> str:
    import torch

    torch.set_num_threads(1)
    lines = [
        "| actor | torch (us) | TorchScript (us) | onnxruntime (us) | numpy (us) |",
        "|---|---|---|---|---|",
    ]
    lines += [latency_row(name, repeats) for name in ("paper", "abilene-in3-rand-cap0-2")]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=10)
    parser.add_argument("--seed", type=int, default=12345678)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--policy", type=Path, default=SHIPPED / "paper-20x50")
    parser.add_argument("--export", action="store_true", help="exported actors' latency")
    args = parser.parse_args()
    if args.export:
        text = export_latency(args.repeats)
        (HERE / "out").mkdir(exist_ok=True)
        (HERE / "out" / "slicing-export.md").write_text(text)
        print(text, end="")
        return
    scenario = load_slicing_scenario(SCENARIO)
    drl = admm_drl(load_slave(args.policy))
    rows = []
    for k in range(args.instances):
        problem = scenario.problem(args.seed + k)
        layout = Layout.of(problem)
        demand = scenario.demand(problem, args.seed + k)[0]
        deficit = np.zeros(layout.alpha.size)
        capacity, floors = problem.capacity, layout.floors(demand)
        x_drl, ms_drl = timed(partial(drl, layout, demand, deficit), args.repeats)
        x_opt, ms_opt = timed(partial(admm_opt, layout, demand, deficit), args.repeats)
        utility = [
            float(weighted_utility(layout, project_capacity(x, capacity, floors), demand).sum())
            for x in (x_drl, x_opt)
        ]
        rows.append((args.seed + k, utility[0], utility[1], ms_drl, ms_opt))
    lines = [
        f"20 slices x 50 users, {args.instances} instances (seeds {args.seed}..), "
        f"{problem.iterations} ADMM iterations per decision, best of {args.repeats} timings",
        "",
        "| seed | ADMM-DRL utility | ADMM-OPT utility | ratio | DRL ms | OPT ms |",
        "|---|---|---|---|---|---|",
    ]
    for seed, u_drl, u_opt, ms_drl, ms_opt in rows:
        lines.append(
            f"| {seed} | {u_drl:.2f} | {u_opt:.2f} | {u_drl / u_opt:.4f} "
            f"| {ms_drl:.2f} | {ms_opt:.2f} |"
        )
    ratio = statistics.mean(r[1] / r[2] for r in rows)
    drl_ms, opt_ms = statistics.mean(r[3] for r in rows), statistics.mean(r[4] for r in rows)
    lines += [
        "",
        f"mean ratio ADMM-DRL / ADMM-OPT: {ratio:.4f} (required >= 0.95)",
        f"mean decision: ADMM-DRL {drl_ms:.2f} ms (required <= 20), ADMM-OPT {opt_ms:.2f} ms, "
        f"ADMM-OPT / ADMM-DRL time {opt_ms / drl_ms:.2f}x",
    ]
    text = "\n".join(lines) + "\n"
    (HERE / "out").mkdir(exist_ok=True)
    (HERE / "out" / "slicing.md").write_text(text)
    print(text, end="")


if __name__ == "__main__":
    main()
