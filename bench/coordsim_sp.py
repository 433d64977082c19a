"""The reference side of the benchmark: coord-sim 2.2.1 driven by the shortest-path
baseline of the DeepCoord authors, exactly as their runner does (plan once from the
static topology, apply the same action every step).

Runs in coord-sim's own virtual environment (see sim_vs_coordsim.py), never imports
this project, and prints one JSON object per seed.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections import defaultdict

from common.common_functionalities import normalize_scheduling_probabilities
from siminterface.simulator import Simulator
from spinterface import SimulatorAction


def neighbours_by_delay(network, nodes):
    sp = network.graph["shortest_paths"]
    return {u: sorted((v for v in nodes if v != u), key=lambda v: sp[(u, v)][1]) for u in nodes}


def advance(idx, level, u, placement, nbrs, n_sfs, cap):
    cand = nbrs[u]
    while len(placement[cand[idx]]) > level[0] or cap[cand[idx]] == 0:
        idx += 1
        if idx == len(cand):
            level[0] += 1
            idx = 0
        if level[0] > n_sfs:
            idx = 0
            break
    return idx


def pick(u, level, placement, nbrs, n_sfs, cap, ingress):
    idx = advance(0, level, u, placement, nbrs, n_sfs, cap)
    while level[0] == 0 and nbrs[u][idx] in ingress:
        if idx + 1 >= len(nbrs[u]):
            break
        idx = advance(idx + 1, level, u, placement, nbrs, n_sfs, cap)
    return nbrs[u][idx]


def shortest_path_action(network, nodes, sfs, sfcs, ingress, cap):
    placement = defaultdict(list)
    counts = {u: {c: {f: dict.fromkeys(nodes, 0) for f in sfs} for c in sfcs} for u in nodes}
    nbrs = neighbours_by_delay(network, nodes)
    sfc = sfcs[0]
    for ing in ingress:
        level = [0]
        node = ing if cap[ing] > 0 else pick(ing, level, placement, nbrs, len(sfs), cap, ingress)
        if sfs[0] not in placement[node]:
            placement[node].append(sfs[0])
        counts[ing][sfc][sfs[0]][node] += 1
        for sf in sfs[1:]:
            new = pick(node, level, placement, nbrs, len(sfs), cap, ingress)
            if sf not in placement[new]:
                placement[new].append(sf)
            counts[node][sfc][sf][new] += 1
            node = new
    schedule = {}
    for u in nodes:
        schedule[u] = {}
        for c in sfcs:
            schedule[u][c] = {}
            for f in sfs:
                probs = normalize_scheduling_probabilities(list(counts[u][c][f].values()))
                schedule[u][c][f] = dict(zip(nodes, probs, strict=True))
    return SimulatorAction(dict(placement), schedule)


def run(network, service, config, seed, steps):
    started = time.perf_counter()
    sim = Simulator(network, service, config)
    state = sim.init(seed)
    nodes = [n["id"] for n in state.network["nodes"]]
    ingress = [n[0] for n in sim.ing_nodes]
    cap = {n: sim.network.nodes[n]["cap"] for n in nodes}
    action = shortest_path_action(
        sim.network, nodes, list(state.service_functions), list(state.sfcs), ingress, cap
    )
    for _ in range(steps):
        sim.apply(action)
    wall = time.perf_counter() - started
    m = sim.metrics.get_metrics()
    return {
        "seed": seed,
        "generated": m["generated_flows"],
        "successful": m["processed_flows"],
        "dropped": m["dropped_flows"],
        "drops": dict(m["dropped_flow_reasons"]),
        "delay_ms": m["avg_end2end_delay"],
        "wall_s": wall,
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--network", required=True)
    parser.add_argument("--service", required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--seeds", required=True)
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    for seed in (int(s) for s in args.seeds.split(",")):
        print(
            json.dumps(run(args.network, args.service, args.config, seed, args.steps)), flush=True
        )


if __name__ == "__main__":
    main()
