"""Full-rule-set install time on Abilene, into real Open vSwitch through the os-ken app.

Eleven userspace bridges stand for Abilene's eleven nodes; the shortest-path decision
is compiled for Abilene (about 600 flows and 33 groups) and sent as one batch with
barriers; then it is read back. Also: a changed schedule (group modifications only).

    python bench/ovs_install.py [--repeats 5]     # needs root and Open vSwitch
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from agent.model.scenario import load_scenario
from agent.model.types import Decision
from agent.model.wiring import Wiring, synthetic_wiring
from agent.policies.registry import make_policy
from agent.rules.compiler import CompileContext, RuleCompiler
from agent.rules.diff import Change, plan_changes
from agent.sim.engine import Simulator
from agent.southbound.controller_client import ControllerClient
from agent.train.rollout import policy_context

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support.ovs_testbed import OvsTestbed, TestbedSpec, ensure_ovs, wait_for  # noqa: E402
from tests.support.processes import start_controller  # noqa: E402


def abilene_rules(dpids: list[int]) -> tuple[CompileContext, Decision, Decision]:
    scenario = load_scenario(ROOT / "topologies/scenarios/abilene-in3.yaml")
    synthetic = synthetic_wiring(scenario.network)
    wiring = Wiring(
        dpids=dict(zip(scenario.network.node_ids, dpids, strict=True)),
        ports=synthetic.ports,
        sf_ports=synthetic.sf_ports,
        ingress_ports=synthetic.ingress_ports,
        hosts=synthetic.hosts,
    )
    topology = CompileContext(scenario.network, scenario.services, wiring)
    first = make_policy("shortest-path", policy_context(scenario, 0)).predict(
        Simulator(scenario).observation
    )
    second = make_policy("load-balance", policy_context(scenario, 0)).predict(
        Simulator(scenario).observation
    )
    return topology, first, second


async def timed_apply(client: ControllerClient, changes: list[Change]) -> float:
    started = time.perf_counter()
    result = await client.apply([(c.op, c.intent) for c in changes])
    elapsed = time.perf_counter() - started
    if not result.ok:
        raise RuntimeError(f"install failed: {result.errors[:3]}")
    return elapsed * 1000.0


async def measure(
    address: str, topology: CompileContext, first: Decision, second: Decision, repeats: int
) -> dict[str, list[float]]:
    compiler = RuleCompiler(topology)
    full, modify, readback = [], [], []
    async with ControllerClient(address, agent="bench", timeout=30) as client:
        for _ in range(repeats):
            installed = await client.dump()
            await timed_apply(client, plan_changes(installed, []))  # empty the switches
            intents = compiler.compile(first)
            full.append(await timed_apply(client, plan_changes([], intents)))
            started = time.perf_counter()
            back = await client.dump()
            readback.append((time.perf_counter() - started) * 1000.0)
            assert set(back) == set(intents), "read-back differs"
            changes = plan_changes(intents, compiler.compile(second))
            modify.append(await timed_apply(client, changes))
    return {"full": full, "modify": modify, "readback": readback, "rules": [float(len(intents))]}


def row(name: str, values: list[float]) -> str:
    return f"| {name} | {statistics.median(values):.0f} | {max(values):.0f} |\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    ensure_ovs()
    tmp = Path(tempfile.mkdtemp(prefix="ovs-install-"))
    controller = start_controller(tmp, poll_interval=5.0)
    bed = OvsTestbed(
        TestbedSpec(switches=11, topology="ring", hosts=(), reflectors=False), controller.of_port
    )
    try:
        wiring = bed.build()
        dpids = [sw.dpid for sw in wiring.switches]
        wait_for(lambda: sorted(controller.datapaths()) == sorted(dpids), 30, "11 switches")
        topology, first, second = abilene_rules(dpids)
        r = asyncio.run(measure(controller.address, topology, first, second, args.repeats))
    finally:
        bed.teardown()
        controller.stop()
    report = (
        f"Abilene, {r['rules'][0]:.0f} rules on 11 Open vSwitch bridges (userspace), "
        f"one batch with barriers, {args.repeats} runs:\n\n"
        "| operation | median (ms) | max (ms) |\n|---|---|---|\n"
        + row("full rule set installed", r["full"])
        + row("read back (dump)", r["readback"])
        + row("new schedule (group modifications)", r["modify"])
    )
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "ovs_install.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
