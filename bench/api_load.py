"""The decision cycle under API load: `agent run` on its simulator backend (bundled
configuration: Abilene, three ingress nodes, real time; a decision every ``--interval``
seconds, 0.25 by default for more cycles to take quantiles over), first idle, then
while a client sends GETs over /status, /decisions/latest, /rules and /metrics. Side by
side in one run: cycle gaps, decision latency (observation in -> batch ready, from the
daemon's own per-cycle log) idle and loaded, the simulator's pace against the wall
clock, and the requests served.

    python bench/api_load.py [--requests 20000] [--concurrency 50] [--idle 20] [--rounds 1]
                             [--interval 0.25]

Targets: no cycle gap above 1.5 intervals, decision p99 loaded within 2x of idle,
the simulator at >= 95 % of real time, >= 500 requests/s. The client runs in its own
process; everything talks over 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import yaml

ROOT = Path(__file__).resolve().parents[1]
PATHS = ("/status", "/decisions/latest", "/rules", "/metrics")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def get_json(port: int, path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as response:
        return json.loads(response.read())


def start_agent(folder: Path, port: int, interval: float) -> tuple[subprocess.Popen[bytes], Path]:
    config = yaml.safe_load((ROOT / "systemd/agent.yaml").read_text())
    config["scenario"] = str(ROOT / "topologies/scenarios/abilene-in3.yaml")
    config["decision_interval"] = interval
    config["log"] = {"format": "json", "level": "debug"}
    path = folder / "agent.yaml"
    path.write_text(yaml.safe_dump(config))
    log = folder / "agent.log"
    agent = str(Path(sys.executable).with_name("agent"))
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [agent, "run", "--config", str(path), "--api", f"127.0.0.1:{port}"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if get_json(port, "/status")["ready"]:
                return proc, log
        except OSError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"agent did not become ready; see {log}")


def cycles_between(log: Path, start: float, end: float) -> list[tuple[float, float]]:
    """(start time, decide-to-batch ms) of every cycle that started in [start, end)."""
    out = []
    for line in log.read_text().splitlines():
        if '"event": "cycle"' not in line:
            continue
        record = json.loads(line)
        if start <= record["started"] < end:
            out.append((record["started"], record["decide_to_batch_ms"]))
    return out


def summarise(cycles: list[tuple[float, float]], interval: float) -> dict[str, float]:
    starts = [c[0] for c in cycles]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    latencies = sorted(c[1] for c in cycles)
    p99 = statistics.quantiles(latencies, n=100, method="inclusive")[98]
    return {
        "cycles": len(cycles),
        "max_gap_intervals": max(gaps) / interval if gaps else float("nan"),
        "decision_p50_ms": statistics.median(latencies),
        "decision_p99_ms": p99,
    }


def sim_clock(port: int) -> tuple[float, float, float]:
    """(simulated seconds, wall time of that reading, now): the status is published
    after each cycle, so the simulated time goes with that cycle's start."""
    status = get_json(port, "/status")
    return status["backend_stats"]["sim_time_s"], status["last_decision_at"], time.time()


async def client(port: int, requests: int, concurrency: int) -> dict[str, float]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    counter = iter(range(requests))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            for i in counter:
                path = PATHS[i % len(PATHS)]
                t0 = time.perf_counter()
                async with session.get(f"http://127.0.0.1:{port}{path}") as response:
                    await response.read()
                    statuses[response.status] = statuses.get(response.status, 0) + 1
                latencies.append(time.perf_counter() - t0)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "wall_s": wall,
        "per_s": len(latencies) / wall,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)],
        "non_200": float(sum(n for code, n in statuses.items() if code != 200)),
    }


def run_client(port: int, requests: int, concurrency: int, queue: Any) -> None:
    queue.put(asyncio.run(client(port, requests, concurrency)))


def apply_load(port: int, args: Any) -> dict[str, float]:
    """``args.rounds`` client runs, one after the other, each in its own process."""
    rounds = []
    for _ in range(args.rounds):
        context = multiprocessing.get_context("spawn")
        queue: Any = context.Queue()
        worker = context.Process(
            target=run_client, args=(port, args.requests, args.concurrency, queue)
        )
        worker.start()
        rounds.append(queue.get())
        worker.join()
    total = sum(r["requests"] for r in rounds)
    wall = sum(r["wall_s"] for r in rounds)
    return {
        "requests": total,
        "wall_s": wall,
        "per_s": total / wall,
        "p50_ms": max(r["p50_ms"] for r in rounds),
        "p99_ms": max(r["p99_ms"] for r in rounds),
        "non_200": sum(r["non_200"] for r in rounds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--idle", type=float, default=20.0, help="idle seconds measured first")
    parser.add_argument(
        "--rounds", type=int, default=1, help="load rounds back to back (more loaded cycles)"
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=0.25,
        help="decision interval in seconds (shorter: more cycles to take quantiles over)",
    )
    args = parser.parse_args()
    interval = args.interval
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        proc, log = start_agent(Path(folder), port, interval)
        try:
            idle_sim, idle_at, idle_start = sim_clock(port)
            time.sleep(args.idle)
            load_sim, load_at, load_start = sim_clock(port)
            load = apply_load(port, args)
            end = time.time()
            time.sleep(interval * 2)  # the last cycles reach the log and the status
            end_sim, end_at, _ = sim_clock(port)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        idle = summarise(cycles_between(log, idle_start, load_start), interval)
        loaded = summarise(cycles_between(log, load_start, end), interval)
    idle["sim_pace"] = (load_sim - idle_sim) / (load_at - idle_at)
    loaded["sim_pace"] = (end_sim - load_sim) / (end_at - load_at)  # includes 2 s after
    report(idle, loaded, load, args)


def report(
    idle: dict[str, float], loaded: dict[str, float], load: dict[str, float], args: Any
) -> None:
    print(
        f"# API load: {args.rounds} x {args.requests} GETs over {', '.join(PATHS)}, "
        f"concurrency {args.concurrency}"
    )
    print(f"cores: {os.cpu_count()}, load average before: {os.getloadavg()[0]:.2f}\n")
    print("| phase | cycles | max gap (intervals) | decision p50 ms | decision p99 ms | sim pace |")
    print("|---|---|---|---|---|---|")
    for name, row in (("idle", idle), ("loaded", loaded)):
        print(
            f"| {name} | {row['cycles']:.0f} | {row['max_gap_intervals']:.2f} | "
            f"{row['decision_p50_ms']:.2f} | {row['decision_p99_ms']:.2f} | {row['sim_pace']:.3f} |"
        )
    ratio = loaded["decision_p99_ms"] / idle["decision_p99_ms"]
    print(
        f"\nrequests: {load['requests']:.0f} in {load['wall_s']:.1f} s = {load['per_s']:.0f}/s, "
        f"p50 {load['p50_ms']:.1f} ms, p99 {load['p99_ms']:.1f} ms, non-200: {load['non_200']:.0f}"
    )
    print(f"decision p99 loaded / idle: {ratio:.2f}x")
    checks = {
        "max gap <= 1.5 intervals": loaded["max_gap_intervals"] <= 1.5,
        "decision p99 within 2x idle": ratio <= 2.0,
        "simulator >= 95 % of real time": loaded["sim_pace"] >= 0.95,
        ">= 500 requests/s": load["per_s"] >= 500,
    }
    for name, ok in checks.items():
        print(f"- {name}: {'yes' if ok else 'NO'}")


if __name__ == "__main__":
    main()
