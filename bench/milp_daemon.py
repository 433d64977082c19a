"""Decision-cycle latency of the daemon with ``policy: milp`` while the MILP solves in its
worker process, against ``policy: shortest-path``, on Abilene with the simulator backend.

The MILP policy never solves within a cycle: it answers at once with its last plan and
re-plans in one worker process (agent.runtime.milp_planner); until the first plan
arrives, each cycle's prediction raises ``PlanPending`` and the fallback (shortest path)
decides; later it re-plans whenever the smoothed demand moves by more than 30 %, which on
the simulated traffic is most of the time. Cycles are grouped by what the worker was doing
when they ran: no plan yet (a solve in flight, the fallback decides), a plan and a solve
in flight, a plan and no solve. Latency is a cycle's observe + decide + compile + diff
(the install into the embedded switch table left out), as in bench/daemon_cycle.py; p50
and p99 per phase.

    python bench/milp_daemon.py [--scenario abilene-in3] [--cycles 300] [--repeats 3]

Writes bench/out/milp_daemon.md (and prints it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from agent.model.scenario import load_scenario
from agent.runtime.config import AgentConfig
from agent.runtime.cycle import DecisionCycle
from agent.runtime.milp_planner import BackgroundMilpPolicy
from agent.southbound.sim_backend import SimBackend

ROOT = Path(__file__).resolve().parents[1]
DEADLINE_S = 300.0  # a first plan later than this ends the run


PHASES = ("no plan yet, solve in flight", "plan, solve in flight", "plan, no solve")


@dataclass
class Phases:
    """Cycle latencies (ms) by what the MILP's worker was doing."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    first_plan_s: float = 0.0  # from the first measured cycle until the first plan
    solves: int = 0  # plans received

    def add(self, phase: str, latency: float) -> None:
        self.latencies.setdefault(phase, []).append(latency)

    def all(self) -> list[float]:
        return [v for values in self.latencies.values() for v in values]


def quantiles(values: list[float]) -> tuple[float, float]:
    """p50 and p99."""
    if len(values) < 2:
        return (values[0], values[0]) if values else (float("nan"), float("nan"))
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[98]


async def measure(scenario_name: str, policy: str, cycles: int) -> Phases:
    """Cycles a little apart (as the service runs them, faster): ``cycles`` of them, and
    for the MILP at least as many after its first plan arrived."""
    scenario = load_scenario(ROOT / f"topologies/scenarios/{scenario_name}.yaml")
    backend = SimBackend(scenario, time_scale=1.0, seed=1)  # the simulator in real time
    config = AgentConfig(policy=policy, fallback="shortest-path")
    daemon = DecisionCycle(config, scenario, backend)
    await backend.start()
    phases = Phases()
    try:
        await daemon.cycle()  # the full rule set goes in first
        while backend.observation() is None:
            await asyncio.sleep(0.001)
        milp = daemon.policy("milp") if policy == "milp" else None
        started, after = time.monotonic(), 0
        while len(phases.all()) < cycles or (
            isinstance(milp, BackgroundMilpPolicy) and after < cycles
        ):
            if time.monotonic() - started > DEADLINE_S:
                break
            await asyncio.sleep(0.002)  # let the simulator move on
            record = await daemon.cycle()
            latency = record.latency_ms["total"] - record.latency_ms.get("install", 0.0)
            if not isinstance(milp, BackgroundMilpPolicy):
                phases.add("-", latency)
                continue
            phases.add(_phase(milp), latency)
            if milp.plan is None:
                phases.first_plan_s = time.monotonic() - started
            else:
                after += 1
        if isinstance(milp, BackgroundMilpPolicy):
            phases.solves = milp.plans_made
    finally:
        await backend.stop()
        daemon.close()
    return phases


def _phase(milp: BackgroundMilpPolicy) -> str:
    if milp.plan is None:
        return PHASES[0]
    return PHASES[1] if milp.pending is not None else PHASES[2]


def pooled(scenario: str, cycles: int, repeats: int) -> tuple[Phases, Phases]:
    """The MILP and shortest path in turns, ``repeats`` times each, latencies pooled:
    both see the same drift of the machine's load."""
    milp, base = Phases(), Phases()
    for _ in range(repeats):
        run = asyncio.run(measure(scenario, "milp", cycles))
        for phase, values in run.latencies.items():
            milp.latencies.setdefault(phase, []).extend(values)
        milp.first_plan_s = max(milp.first_plan_s, run.first_plan_s)
        milp.solves += run.solves
        other = asyncio.run(measure(scenario, "shortest-path", len(run.all())))  # as many
        base.latencies.setdefault("-", []).extend(other.all())
    return milp, base


def report(scenario: str, cycles: int, repeats: int) -> list[str]:
    milp, base = pooled(scenario, cycles, repeats)
    sp50, sp99 = quantiles(base.all())
    lines = [
        "| policy | phase | cycles | cycle p50 (ms) | cycle p99 (ms) | p99 vs shortest-path |",
        "|---|---|---|---|---|---|",
        f"| shortest-path | - | {len(base.all())} | {sp50:.2f} | {sp99:.2f} | 1.00x |",
    ]
    for phase in (*PHASES, "all"):
        values = milp.all() if phase == "all" else milp.latencies.get(phase, [])
        if len(values) < 20:
            lines.append(f"| milp | {phase} | {len(values)} | - | - | - |")
            continue
        p50, p99 = quantiles(values)
        lines.append(
            f"| milp | {phase} | {len(values)} | {p50:.2f} | {p99:.2f} | {p99 / sp99:.2f}x |"
        )
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    lines += [
        "",
        f"{scenario}, simulator backend in real time, cycles 2 ms apart, {repeats} runs of "
        f"each policy in turns; the first MILP plan arrived at most {milp.first_plan_s:.1f} s "
        f"after the first measured cycle (worker start and solve), {milp.solves} plans in "
        f"all. Load average (1, 5, 15 min) at the end: {load}; {os.cpu_count()} CPUs.",
    ]
    return lines


def main() -> None:
    sys.setswitchinterval(0.001)  # as `agent run` does
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="abilene-in3")
    parser.add_argument("--cycles", type=int, default=300, help="cycles after the first plan")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each policy, in turns")
    args = parser.parse_args()
    text = "\n".join(report(args.scenario, args.cycles, args.repeats)) + "\n"
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "milp_daemon.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
