"""Hierarchical against centralised coordination MILP on SNDlib's Janos-US.

The network is annotated as hvc's data generator does (max rate 20-40 per link, seeded
by its index; CPU 8-64 per node; geographic delay at 0.77 c), hierarchies come from
k-means on the coordinates (seed 0). Request sets: for 1 to 5 flows, 5 sets each (set s of
n flows uses seed 1000 n + s): ingress and egress two different nodes of CANDIDATES,
initial rate an integer in RATES, chain SRC -> A -> B -> DST with hvc's test VNFs
(A: CPU 0.5 x, out 1.5 x; B: CPU 0.3 x, out 1.3 x), so that a request's traffic after
the chain (1.95 x) is of the order of a link's rate. Every MILP gets TIME_LIMIT seconds
and HiGHS' default relative gap 1e-4, one thread, solver seed 0.

Settings: centralised (one MILP), 2 levels (8 leaf domains), 3 levels (8 leaf domains
in 2 groups) advertising all link-disjoint paths per border group pair, and the same 3
levels advertising one path. Above the leaves a domain solves the first objective only
(instances + delay); the leaves solve all three, as the centralised MILP does. Then
cheaper hierarchies (EXTRA): a relative MIP gap for the domains, leaves that solve the
first objective only, two advertised paths, more leaf domains, and corridors: each
request's links within a detour of its shortest route (0/50 %: first the shortest routes
only, where that leaves no solution 50 % longer ones, then all links); the centralised
MILP with corridors too, for comparison (no longer proved optimal). Runtime is
hvc's: a domain's own time plus the slowest of its children's (domains run in parallel);
a domain's time is the CPU time of the process solving it (model and solve; HiGHS runs
one thread), so that other work on a shared machine does not count. Wall is one process
solving all domains in turn, by the clock (k-means and advertisement included). Total
delay is hvc's: per request the delay of the distinct links it uses.

Then ``--workers 2`` against serial: wall time of the 3-level runs in which at least
4 domains had work, in a pool of two processes started once for all runs; and the share
of the serial domains' time that lies on the critical path (root, the slowest child,
its slowest child), which no number of workers shortens.

    python bench/milp_hierarchy.py                 # full table (minutes to an hour)
    python bench/milp_hierarchy.py --flows 1-2 --sets 2 --no-workers   # a quick look
    python bench/milp_hierarchy.py --rates 1-10    # the lighter request rates
    python bench/milp_hierarchy.py --write-scenario topologies/milp   # bundled files
    python bench/milp_hierarchy.py --list          # the settings, numbered
    python bench/milp_hierarchy.py --settings 0,2,15-16 --flows 1-3 --sets 3 --no-workers

Writes bench/out/milp_hierarchy.csv and .md (``--name``), and prints the tables; per run
the CSV names the slowest domain (``heavy_*``: name@level, sub-requests, seconds, gap)
and counts the domains whose first corridor left no solution (``widened``).
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx

from agent.model.hvc import Request, Substrate, Vnf
from agent.model.hvc_expr import Linear
from agent.model.hvc_scenario import MilpInputs
from agent.model.hvc_topology import annotate_like_hvc, read_sndlib_xml
from agent.policies.milp.advertise import Advertise
from agent.policies.milp.api import SolveSettings, solve_inputs
from agent.policies.milp.coordinate import CoordinationResult, Runner, serial_runner
from agent.policies.milp.lp import SolverOptions
from agent.policies.milp.parallel import local_runner
from agent.policies.milp.solve import MilpOptions

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
JANOS = ROOT / "topologies" / "milp" / "janos-us.xml"
CANDIDATES = (
    "ElPaso",
    "Dallas",
    "WashingtonDC",
    "Boston",
    "Seattle",
    "LosAngeles",
    "Miami",
    "Chicago",
    "Denver",
    "Atlanta",
)
RATES = (5, 15)
TIME_LIMIT = 600.0
VNFS = {
    "A": Vnf("A", Linear(0.5, 0.0, "0.5 * in_rate"), Linear(1.5, 0.0, "1.5 * in_rate")),
    "B": Vnf("B", Linear(0.3, 0.0, "0.3 * in_rate"), Linear(1.3, 0.0, "1.3 * in_rate")),
}


GAP = 1e-4  # HiGHS' default relative MIP gap: the centralised MILP is proved optimal


@dataclass(frozen=True)
class Setting:
    name: str
    domains: tuple[int, ...]
    advertise: Advertise = Advertise.FULL
    leaf_gap: float = GAP  # relative MIP gap of the leaf domains
    upper_gap: float | None = None  # above the leaves (None: the leaves')
    leaf_lexicographic: bool = True  # else the leaves solve the first objective only
    corridor: tuple[float, ...] = ()  # every domain: each request's links within a detour


SETTINGS = (
    Setting("centralised", ()),
    Setting("2 levels (8)", (8,)),
    Setting("3 levels (8,2) full", (8, 2)),
    Setting("3 levels (8,2) one path", (8, 2), Advertise.ONE),
)


def heuristic(
    domains: tuple[int, ...],
    slacks: tuple[float, ...],
    gap: float = 0.05,
    advertise: Advertise = Advertise.FULL,
) -> Setting:
    """Corridors (tried in turn, then all links), a MIP gap for every domain, and leaves
    solving the first objective only."""
    name = f"{len(domains) + 1} levels ({','.join(map(str, domains))})"
    if len(domains) > 1:
        name += " " + {"full": "full", "1": "one path", "2": "two paths"}[advertise.value]
    corridor = "/".join(f"{100 * slack:g}" for slack in slacks)
    name += f", corridor {corridor} %, gap {100 * gap:g} %, leaves stage 1"
    return Setting(name, domains, advertise, gap, None, False, slacks)


# Cheaper hierarchies: a relative MIP gap for the domains (a hierarchy is a heuristic
# anyway), leaves that solve the first objective only, fewer advertised paths, and
# corridors (each request's links within a detour of its shortest route: corridor.py).
FULL = (8, 2)
EXTRA = (
    Setting("3 levels (8,2) full, gap 1 %", FULL, leaf_gap=0.01),
    Setting("3 levels (8,2) full, gap 5 %", FULL, leaf_gap=0.05),
    Setting("3 levels (8,2) full, upper gap 5 %", FULL, upper_gap=0.05),
    Setting("3 levels (8,2) full, leaves stage 1", FULL, leaf_lexicographic=False),
    Setting("3 levels (8,2) two paths", FULL, Advertise.TWO),
    Setting("3 levels (12,3) full", (12, 3)),
    Setting("3 levels (8,2) full, corridor 50 %", FULL, corridor=(0.5,)),
    Setting("3 levels (8,2) full, corridor 0/50 %", FULL, corridor=(0.0, 0.5)),
    heuristic(FULL, (0.5,)),
    heuristic(FULL, (0.0,)),
    heuristic(FULL, (0.0, 0.25)),
    heuristic(FULL, (0.0, 0.5), gap=0.01),
    heuristic(FULL, (0.0, 0.5)),
    heuristic(FULL, (0.0, 0.5), advertise=Advertise.ONE),
    heuristic((12, 3), (0.0, 0.5)),
    heuristic((8,), (0.0, 0.5)),
    Setting("centralised, corridor 0/50 % (not proved optimal)", (), corridor=(0.0, 0.5)),
)
ALL = SETTINGS + EXTRA
HIGHLIGHT = (heuristic(FULL, (0.0, 0.5)), heuristic((8,), (0.0, 0.5)))  # per flow count too


def requests(flows: int, index: int, rates: tuple[int, int]) -> dict[str, Request]:
    rng = random.Random(1000 * flows + index)
    made = {}
    for i in range(flows):
        ingress, egress = rng.sample(CANDIDATES, 2)
        rate = float(rng.randint(*rates))
        made[f"request{i}"] = Request(f"request{i}", ingress, egress, rate, ("A", "B"), "chain1")
    return made


def run(
    substrate: Substrate,
    flows: int,
    index: int,
    setting: Setting,
    rates: tuple[int, int],
    runner: Runner,
) -> tuple[CoordinationResult, float]:
    inputs = MilpInputs("janos-us", dict(VNFS), requests(flows, index, rates), substrate)
    solver = SolverOptions(time_limit_s=TIME_LIMIT, mip_gap=setting.leaf_gap)
    settings = SolveSettings(
        levels=len(setting.domains) + 1,
        domains=setting.domains,
        advertise=setting.advertise,
        milp=MilpOptions(solver, setting.leaf_lexicographic, setting.corridor),
        upper_gap=setting.upper_gap,
    )
    started = time.perf_counter()
    result = solve_inputs(inputs, settings, runner)
    return result, time.perf_counter() - started


def cpu_runner() -> Runner:
    """Domains in turn, here, each timed by this process's CPU time."""
    return serial_runner(time.process_time)


def table(rows: list[dict[str, Any]], settings: Sequence[Setting]) -> list[str]:
    central = {(r["flows"], r["set"]): r for r in rows if r["setting"] == "centralised"}
    lines = [
        "| setting | runs | infeasible | runtime mean (s) | speedup | wall mean (s) | "
        "total delay mean (ms) | delay vs centralised |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for setting in settings:
        mine = [r for r in rows if r["setting"] == setting.name]
        ok = [r for r in mine if r["feasible"]]
        pairs = [(r, central[(r["flows"], r["set"])]) for r in ok]
        runtime = statistics.mean(float(r["runtime_s"]) for r in ok) if ok else float("nan")
        base = statistics.mean(float(c["runtime_s"]) for _, c in pairs) if pairs else runtime
        delay = sum(float(r["total_delay_ms"]) for r, _ in pairs)
        base_delay = sum(float(c["total_delay_ms"]) for _, c in pairs)
        wall = statistics.mean(float(r["wall_s"]) for r in ok) if ok else float("nan")
        lines.append(
            f"| {setting.name} | {len(mine)} | {len(mine) - len(ok)} | {runtime:.3f} | "
            f"{base / runtime:.1f}x | {wall:.3f} | {delay / max(len(pairs), 1):.2f} | "
            f"{100 * (delay / max(base_delay, 1e-9) - 1):+.1f} % |"
        )
    return lines


def per_flows(rows: list[dict[str, Any]], settings: Sequence[Setting]) -> list[str]:
    lines = [
        "| flows | " + " | ".join(s.name for s in settings) + " |",
        "|---|" + "---|" * len(settings),
    ]
    for flows in sorted({int(str(r["flows"])) for r in rows}):
        cells = []
        for setting in settings:
            mine = [r for r in rows if r["setting"] == setting.name and r["flows"] == flows]
            ok = [r for r in mine if r["feasible"]]
            if not ok:
                cells.append("infeasible")
                continue
            rt = statistics.mean(float(r["runtime_s"]) for r in ok)
            delay = statistics.mean(float(r["total_delay_ms"]) for r in ok)
            failed = len(mine) - len(ok)
            cells.append(
                f"{rt:.3f} s, {delay:.2f} ms" + (f" ({failed} infeasible)" if failed else "")
            )
        lines.append(f"| {flows} | " + " | ".join(cells) + " |")
    return lines


def heaviest(result: CoordinationResult) -> dict[str, Any]:
    """The domain that took the longest: name, level, sub-requests, seconds, gap."""
    if not result.domains:
        return {"heavy_domain": "", "heavy_requests": 0, "heavy_s": 0.0, "heavy_gap": 0.0}
    top = max(result.domains, key=lambda d: d.runtime_s)
    return {
        "heavy_domain": f"{top.name}@{top.level}",
        "heavy_requests": top.requests,
        "heavy_s": round(top.runtime_s, 4),
        "heavy_gap": round(top.gap, 6),
    }


def benchmark(
    flows: Sequence[int], sets: int, rates: tuple[int, int], settings: Sequence[Setting]
) -> list[dict[str, Any]]:
    substrate = annotate_like_hvc(read_sndlib_xml(JANOS))
    rows = []
    for n in flows:
        for index in range(1, sets + 1):
            for setting in settings:
                result, wall = run(substrate, n, index, setting, rates, cpu_runner())
                gap = max((d.gap for d in result.domains), default=0.0)
                problem = next((f"{d.name}: {d.problem}" for d in result.domains if d.problem), "")
                row: dict[str, Any] = {
                    "flows": n,
                    "set": index,
                    "setting": setting.name,
                    "status": result.status,
                    "feasible": result.feasible,
                    "runtime_s": round(result.runtime_s, 4),
                    "wall_s": round(wall, 4),
                    "total_delay_ms": round(result.total_delay_ms, 4),
                    "instances": result.instances,
                    "objective": round(result.objective, 4),
                    "gap": gap,
                    "domains": len(result.domains),
                    "widened": sum(d.widened for d in result.domains),
                    **heaviest(result),
                    "problem": problem,
                }
                rows.append(row)
                print(",".join(str(v) for v in row.values()), flush=True)
    return rows


def workers_check(
    flows: Sequence[int], sets: int, rates: tuple[int, int], which: int = 2
) -> list[str]:
    """Serial against two worker processes on the 3-level runs with >= 4 domains, with
    setting ``which`` (``--list``)."""
    substrate = annotate_like_hvc(read_sndlib_xml(JANOS))
    setting = ALL[which]
    serial: list[float] = []
    parallel: list[float] = []
    critical: list[float] = []
    solving: list[float] = []
    with local_runner(2, time.process_time) as pool:
        for n in flows:
            for index in range(1, sets + 1):
                result, wall1 = run(substrate, n, index, setting, rates, cpu_runner())
                if len(result.domains) < 4 or not result.feasible:
                    continue
                _, wall2 = run(substrate, n, index, setting, rates, pool)
                serial.append(wall1)
                parallel.append(wall2)
                critical.append(result.runtime_s)
                solving.append(result.solver_s)
                print(
                    f"workers: {n} flows set {index}: serial {wall1:.3f} s, "
                    f"2 workers {wall2:.3f} s, critical path {result.runtime_s:.3f} s "
                    f"of {result.solver_s:.3f} s solving",
                    flush=True,
                )
    if not serial:
        return ["No 3-level run had 4 domains with work."]
    ratio = sum(parallel) / sum(serial)
    share = sum(critical) / sum(solving)
    return [
        f"`--workers 2` against serial, {setting.name}, {len(serial)} runs with at least 4 "
        f"domains: wall {sum(serial):.2f} s serial, {sum(parallel):.2f} s with 2 workers: "
        f"**{ratio:.2f}x** of serial (required: at most 0.65x). The critical path is "
        f"{100 * share:.0f} % of the domains' solving time (CPU) over these runs."
    ]


def write_scenario(out: Path, rates: tuple[int, int]) -> None:
    """The annotated Janos-US as hvc GML with one request set of 5 flows."""
    substrate = annotate_like_hvc(read_sndlib_xml(JANOS))
    graph = nx.DiGraph()
    for node, cpu in substrate.cpu.items():
        x, y = substrate.coordinates[node]
        graph.add_node(node, label=node, cpu=int(cpu), Longitude=x, Latitude=y)
    for link in substrate.links:
        graph.add_edge(
            link.src,
            link.dst,
            id=int(link.id.removeprefix("edge_")),
            maxRate=int(link.max_rate),
            delay=link.delay,
        )
    out.mkdir(parents=True, exist_ok=True)
    nx.write_gml(graph, out / "janos-us-hvc.gml")
    lines = []
    for name, request in requests(5, 1, rates).items():
        lines += [
            f"{name}:",
            f"  ingress: {request.ingress}",
            f"  egress: {request.egress}",
            f"  initial_rate: {request.rate:g}",
            "  vnf_chain: chain1",
        ]
    (out / "janos-us-requests-5.yaml").write_text("\n".join(lines) + "\n")


def span(text: str) -> list[int]:
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1))


def chosen(text: str) -> list[Setting]:
    """``all``, or indices into ALL (``0,4-7``); the centralised MILP always runs first."""
    if text == "all":
        return list(ALL)
    picked = sorted({i for part in text.split(",") for i in span(part)} | {0})
    return [ALL[i] for i in picked]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", default="1-5", help="flow counts, e.g. 1-5")
    parser.add_argument("--sets", type=int, default=5, help="request sets per flow count")
    parser.add_argument("--rates", default=f"{RATES[0]}-{RATES[1]}", help="initial rates")
    parser.add_argument("--no-workers", action="store_true", help="skip the workers check")
    parser.add_argument(
        "--workers-setting", type=int, default=2, help="setting (--list) of the workers check"
    )
    parser.add_argument(
        "--settings", default="all", help="all, or indices into the settings (0,4-7)"
    )
    parser.add_argument("--list", action="store_true", help="list the settings and stop")
    parser.add_argument("--name", default="milp_hierarchy", help="bench/out/NAME.csv and .md")
    parser.add_argument("--write-scenario", type=Path, help="write the bundled files and stop")
    args = parser.parse_args()
    low, high = span(args.rates)[0], span(args.rates)[-1]
    if args.list:
        print("\n".join(f"{i}: {setting.name}" for i, setting in enumerate(ALL)))
        return
    settings = chosen(args.settings)
    if args.write_scenario is not None:
        write_scenario(args.write_scenario, (low, high))
        return
    load_before = os.getloadavg()
    rows = benchmark(span(args.flows), args.sets, (low, high), settings)
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    with (out / f"{args.name}.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    report = [
        f"Janos-US, flows {args.flows}, {args.sets} request sets each, initial rates "
        f"{low}-{high}, time limit {TIME_LIMIT:g} s per MILP.",
        "",
        *table(rows, settings),
        "",
        *per_flows(rows, [s for s in settings if s in SETTINGS or s in HIGHLIGHT]),
    ]
    if not args.no_workers:
        report += [
            "",
            *workers_check(span(args.flows), args.sets, (low, high), args.workers_setting),
        ]
    load = ", ".join(f"{a:.1f}-{b:.1f}" for a, b in zip(load_before, os.getloadavg(), strict=True))
    report += ["", f"Load average (1, 5, 15 min) at start-end: {load}; {os.cpu_count()} CPUs."]
    (out / f"{args.name}.md").write_text("\n".join(report) + "\n")
    print("\n".join(report))


if __name__ == "__main__":
    main()
