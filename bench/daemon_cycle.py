"""Decision-cycle latency of the daemon on Abilene: observation in -> batch ready
(observe + decide + compile + diff), p50/p99 over many cycles, per policy; and the
time to install the full rule set into the embedded backend's switch table.

    python bench/daemon_cycle.py [--cycles 300]

The install into real Open vSwitch through the controller is measured separately
(bench/ovs_install.py) since it needs switches.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

from agent.model.scenario import load_scenario
from agent.runtime.config import AgentConfig
from agent.runtime.cycle import DecisionCycle
from agent.southbound.sim_backend import SimBackend

ROOT = Path(__file__).resolve().parents[1]


async def measure(scenario_name: str, policy: str, cycles: int) -> dict[str, float]:
    scenario = load_scenario(ROOT / f"topologies/scenarios/{scenario_name}.yaml")
    backend = SimBackend(scenario, time_scale=1.0, seed=1)  # the simulator in real time
    daemon = DecisionCycle(AgentConfig(policy=policy, fallback=policy), scenario, backend)
    await backend.start()
    try:
        started = time.perf_counter()
        first = await daemon.cycle()
        full_install = first.latency_ms["install"]
        rules = len(daemon.installed)
        while backend.observation() is None:
            await asyncio.sleep(0.001)
        latencies = []
        for _ in range(cycles):
            await asyncio.sleep(0.002)  # let the simulator move on
            record = await daemon.cycle()
            latencies.append(record.latency_ms["total"] - record.latency_ms["install"])
        wall = time.perf_counter() - started
    finally:
        await backend.stop()
        daemon.executor.shutdown(wait=False)
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return {"p50": cuts[49], "p99": cuts[98], "install": full_install, "rules": rules, "wall": wall}


def main() -> None:
    sys.setswitchinterval(0.001)  # as `agent run` does
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=300)
    args = parser.parse_args()
    lines = [
        "| scenario | policy | cycle p50 (ms) | cycle p99 (ms) | rules "
        "| full install, fake table (ms) |",
        "|---|---|---|---|---|---|",
    ]
    for scenario in ("abilene-in3", "abilene-in5"):
        trained = f"{scenario}-rand-cap0-2"  # new weights every cycle: groups recompiled
        for policy in ("shortest-path", "greedy", "load-balance", trained):
            r = asyncio.run(measure(scenario, policy, args.cycles))
            lines.append(
                f"| {scenario} | {policy} | {r['p50']:.2f} | {r['p99']:.2f} | {r['rules']:.0f} "
                f"| {r['install']:.1f} |"
            )
            print(lines[-1], flush=True)
    report = "\n".join(lines) + "\n"
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "daemon_cycle.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
