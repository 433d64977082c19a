"""Reports: policies in the lab beside the simulator (markdown + PNG), and a fault
run's success ratio over time."""

from __future__ import annotations

import argparse
import itertools
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

from agent.model.scenario import load_scenario
from mininet_labs.lab import LabConfig, LabRun
from mininet_labs.metrics import LabMetrics

TOLERANCE_PP = 5.0
SHOWN_DIGITS = 3  # the tables show success ratios with three decimals


def sim_metrics(scenario: Path, policy: str, steps: int, schedule: str) -> dict[str, Any]:
    """The simulator's figures for the same scenario, seed and span of traffic, with
    each flow's destinations chosen by ``schedule`` (random: a weighted choice per flow
    at each SF, which is what the switches' hashing SELECT groups do; round-robin:
    coord-sim's deterministic weighted round robin, which no hashing switch can do)."""
    agent = str(Path(sys.executable).with_name("agent"))
    cmd = [
        agent,
        "sim",
        str(scenario),
        "--policy",
        policy,
        "--steps",
        str(steps),
        "--schedule",
        schedule,
        "--format",
        "json",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=True)
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def ranking_text(values: dict[str, float], digits: int = SHOWN_DIGITS) -> str:
    """Policies best first with their values as the tables show them; policies equal at
    that precision are one rank: ``a = b 0.586 (tied)``."""
    shown = {p: round(v, digits) for p, v in values.items()}
    order = sorted(shown, key=lambda p: -shown[p])
    parts = []
    for value, group in itertools.groupby(order, key=lambda p: shown[p]):
        names = list(group)
        tied = " (tied)" if len(names) > 1 else ""
        parts.append(f"{' = '.join(names)} {value:.{digits}f}{tied}")
    return " > ".join(parts)


def order_verdict(
    lab: dict[str, float], sim: dict[str, float], tie_pp: float = 1.0, digits: int = SHOWN_DIGITS
) -> tuple[bool, str]:
    """Whether the policies rank alike in the lab and the simulator, and a phrase that says
    so. A pair tied in either (equal at the shown precision in the lab, within ``tie_pp``
    percentage points in the simulator) cannot disagree; the pairs ordered oppositely that
    count as tied only thanks to ``tie_pp`` are named, so the verdict never contradicts the
    rankings printed beside it."""
    names = list(lab)
    different: list[tuple[str, str]] = []
    soft: list[tuple[str, str]] = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            dl = round(lab[a], digits) - round(lab[b], digits)
            ds = sim[a] - sim[b]
            if dl * ds >= 0:
                continue
            (soft if abs(ds) * 100 <= tie_pp else different).append((a, b) if dl > 0 else (b, a))
    if different:
        pairs = "; ".join(
            f"{a} above {b} in the lab, below it in the simulator" for a, b in different
        )
        return False, f"DIFFERENT order ({pairs})"
    if soft:
        pairs = ", ".join(f"{a} and {b}" for a, b in soft)
        return True, f"same order, counting {pairs} as tied (within {tie_pp:g} pp in the simulator)"
    return True, "same order"


def compare(args: argparse.Namespace, command: str, policies: dict[str, str]) -> Path:
    """Each policy (shown name -> what the daemon and the simulator are given) on each
    scenario, in the lab and in the simulator; the report is OUT/<name>.md."""
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    sections, results = [], {}
    for scenario_path in args.scenario:
        scenario = load_scenario(scenario_path)
        steps = max(1, math.ceil(args.duration * 1000.0 / args.time_scale / scenario.run_duration))
        rows = {}
        for policy, given in policies.items():
            run_out = out / "runs" / f"{scenario.name}-{Path(policy).name}"
            config = LabConfig(
                scenario_path,
                given,
                args.duration,
                args.time_scale,
                run_out,
                args.packets_per_flow,
            )
            lab = LabRun(config).run()
            lab.write(run_out)
            sim = sim_metrics(scenario_path, given, steps, "random")
            sim_rr = sim_metrics(scenario_path, given, steps, "round-robin")
            rows[policy] = (lab, sim, sim_rr)
            print(
                f"{scenario.name} {policy}: lab {lab.summary['success_ratio']:.3f} "
                f"sim {sim['success_ratio']:.3f} (round robin {sim_rr['success_ratio']:.3f})",
                flush=True,
            )
        results[scenario.name] = rows
        sections.append(_section(scenario.name, rows, steps, args))
    stem = args.name or "compare-" + "-".join(results)
    chart = out / f"{stem}.png"
    _chart(results, chart)
    text = [
        f"# Lab beside simulator: {', '.join(results)}",
        "",
        f"Made by: `{command}`",
        "",
        f"Time scale K = {args.time_scale:g} (1 scenario ms = {args.time_scale:g} wall ms); "
        f"{args.duration:g} wall s of traffic per run = {args.duration * 1000 / args.time_scale:g}"
        " scenario ms; the simulator runs the same seed over the same span "
        "(same arrivals: the lab draws its flows with the simulator's arrival process).",
        "",
        "The simulator chooses each flow's node for each SF by weight at random (`agent sim "
        "--schedule random`), as the switches do: a SELECT group hashes each flow's "
        "addresses into slots shared by the schedule's weights, independently at each SF "
        "(agent/rules/compiler.py). coord-sim's weighted round robin (the scenario's own "
        "mode, and what the policies were trained and evaluated with) spreads flows more "
        "evenly than any hashing switch can; its figures are shown beside, for reference.",
        "",
        f"![success ratio and delay, lab beside simulator]({chart.name})",
        "",
        *sections,
    ]
    report = out / f"{stem}.md"
    report.write_text("\n".join(text) + "\n")
    (out / f"{stem}.json").write_text(
        json.dumps(
            {
                name: {
                    p: {"lab": lab.summary | lab.info, "sim": sim, "sim_round_robin": rr}
                    for p, (lab, sim, rr) in rows.items()
                }
                for name, rows in results.items()
            },
            indent=1,
            default=str,
        )
    )
    print(report)
    return report


def _section(
    name: str,
    rows: dict[str, tuple[LabMetrics, dict[str, Any], dict[str, Any]]],
    steps: int,
    args: argparse.Namespace,
) -> str:
    lab_sr = {p: lab.summary["success_ratio"] for p, (lab, _, _) in rows.items()}
    sim_sr = {p: float(sim["success_ratio"]) for p, (_, sim, _) in rows.items()}
    rr_sr = {p: float(rr["success_ratio"]) for p, (_, _, rr) in rows.items()}
    lines = [
        f"## {name}",
        "",
        "| policy | lab success | sim success | diff (pp) | within 5 pp | sim, round robin | "
        "lab flows | lab drops (NODE_CAP/TTL/INCOMPLETE/LOST) | sim drops NODE_CAP | "
        "lab delay ms | sim delay ms | chain order |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for policy, (lab, sim, rr) in rows.items():
        s, d = lab.summary, lab.summary["drops"]
        diff = (s["success_ratio"] - float(sim["success_ratio"])) * 100
        order = s["chain_order"]
        lines.append(
            f"| {policy} | {s['success_ratio']:.3f} | {float(sim['success_ratio']):.3f} | "
            f"{diff:+.1f} | {'yes' if abs(diff) <= TOLERANCE_PP else 'NO'} | "
            f"{float(rr['success_ratio']):.3f} | {s['generated']} | "
            f"{d['NODE_CAP']}/{d['TTL']}/{d['INCOMPLETE']}/{d['LOST']} | "
            f"{sim['drops'].get('NODE_CAP', 0)} | {s['delay_ms']:.1f} | "
            f"{float(sim['delay_ms']):.1f} | {order['flows_in_order']}/{order['flows_checked']} |"
        )
    _, verdict = order_verdict(lab_sr, sim_sr)
    _, verdict_rr = order_verdict(lab_sr, rr_sr)
    first = next(iter(rows.values()))[0]
    lines += [
        "",
        f"Ranking by success ratio, lab: {ranking_text(lab_sr)}; simulator: "
        f"{ranking_text(sim_sr)} -> {verdict}; simulator with round robin: "
        f"{ranking_text(rr_sr)} -> {verdict_rr}.",
        "",
        f"Simulator: {steps} control steps, the scenario's seed"
        f"; link delay in the lab: {first.info.get('link_delay')}. The simulator's delay "
        "includes link delays, the lab's does not where they are not emulated.",
        "",
    ]
    return "\n".join(lines)


def _chart(
    results: dict[str, dict[str, tuple[LabMetrics, dict[str, Any], dict[str, Any]]]], path: Path
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(results), 2, figsize=(11, 3.6 * len(results)), squeeze=False)
    for row, (name, rows) in enumerate(results.items()):
        policies = list(rows)
        xs = range(len(policies))
        for col, (key, label) in enumerate(
            (("success_ratio", "success ratio"), ("delay_ms", "mean delay (scenario ms)"))
        ):
            ax = axes[row][col]
            lab = [rows[p][0].summary[key] for p in policies]
            sim = [float(rows[p][1][key]) for p in policies]
            rr = [float(rows[p][2][key]) for p in policies]
            ax.bar([x - 0.27 for x in xs], lab, 0.27, label="lab (Mininet)")
            ax.bar(list(xs), sim, 0.27, label="simulator")
            ax.bar([x + 0.27 for x in xs], rr, 0.27, label="simulator, round robin", alpha=0.5)
            ax.set_xticks(list(xs), policies)
            ax.set_title(f"{name}: {label}")
            if key == "success_ratio":
                ax.set_ylim(0, 1)
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def recovery_time(
    timeline: list[dict[str, Any]], fail_at: float, bin_s: float, tolerance: float = 0.1
) -> tuple[float, float | None]:
    """(success ratio before the failure, seconds from the failure until the first bin
    from which every later bin is within ``tolerance`` of it; None if never)."""
    before = [b for b in timeline if b["t_s"] + bin_s <= fail_at and b["generated"]]
    base = sum(b["successful"] for b in before) / max(1, sum(b["generated"] for b in before))
    after = [b for b in timeline if b["t_s"] >= fail_at]
    for i, b in enumerate(after):
        if all(x["success_ratio"] >= base - tolerance for x in after[i:] if x["generated"]):
            return base, max(0.0, b["t_s"] - fail_at)
    return base, None


def fault_report(out: Path, metrics: LabMetrics, command: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bin_s = (
        metrics.timeline[1]["t_s"] - metrics.timeline[0]["t_s"]
        if len(metrics.timeline) > 1
        else 1.0
    )
    events = metrics.info.get("events", [])
    fig, ax = plt.subplots(figsize=(9, 3.5))
    ax.plot(
        [b["t_s"] for b in metrics.timeline],
        [b["success_ratio"] for b in metrics.timeline],
        drawstyle="steps-post",
        label="lab success ratio",
    )
    for e in events:
        ax.axvline(e["t"], color="red" if e["action"] == "fail" else "green", ls="--")
        ax.annotate(f"{e['action']} {e['target']}", (e["t"], 0.05), rotation=90, fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("wall seconds since traffic start")
    ax.set_ylabel("success ratio (flows arriving in bin)")
    ax.set_title(f"{metrics.info.get('scenario')} / {metrics.info.get('policy')}: faults")
    fig.tight_layout()
    fig.savefig(out / "faults.png", dpi=90)
    plt.close(fig)
    lines = [
        f"# Faults in the lab: {metrics.info.get('scenario')}, {metrics.info.get('policy')}",
        "",
        f"Made by: `{command}`",
        "",
        "![success ratio over time](faults.png)",
        "",
        f"Time scale K = {metrics.info.get('time_scale')}; bins of {bin_s:g} s; overall "
        f"success ratio {metrics.summary['success_ratio']:.3f} of "
        f"{metrics.summary['generated']} flows; drops {metrics.summary['drops']}.",
        "",
    ]
    for e in events:
        if e["action"] != "fail":
            continue
        base, rec = recovery_time(metrics.timeline, e["t"], bin_s)
        verdict = "never within the run" if rec is None else f"{rec:.1f} s"
        scale = float(metrics.info.get("time_scale", 1.0))
        until = min((x["t"] for x in events if x["t"] > e["t"]), default=float("inf"))
        lost = [
            t
            for r in metrics.flows
            if r["outcome"] == "LOST"
            and e["t"] - 0.5 <= (t := r["arrival_ms"] * scale / 1000.0)
            and t < until
        ]
        recovered_at = max(lost) if lost else e["t"]
        later = [
            r for r in metrics.flows if recovered_at < r["arrival_ms"] * scale / 1000.0 < until
        ]
        after = sum(r["outcome"] == "success" for r in later) / max(1, len(later))
        if lost:
            lines.append(
                f"- {e['target']} failed at {e['t']:.2f} s: flows lost in the network "
                f"(not rejected by a compute host) arrived from {min(lost):.2f} s to "
                f"{max(lost):.2f} s ({len(lost)} flows): traffic recovered "
                f"{max(lost) - e['t']:.2f} s after the failure; none was lost after that"
                + (" until the next event." if until < float("inf") else ".")
            )
        else:
            lines.append(
                f"- {e['target']} failed at {e['t']:.2f} s: no flow was lost in the network."
            )
        lines.append(
            f"- success ratio before the failure {base:.3f}, after recovery {after:.3f} "
            f"({len(later)} flows; the new placement has its own NODE_CAP share). Strict "
            f"criterion, every later {bin_s:g} s bin within 0.1 of before: {verdict} (bins "
            "of a few flows: this mostly measures bin noise)."
        )
    lines += ["", "| t (s) | flows | successful | success ratio |", "|---|---|---|---|"]
    lines += [
        f"| {b['t_s']:g} | {b['generated']} | {b['successful']} | {b['success_ratio']:.3f} |"
        for b in metrics.timeline
    ]
    path = out / "faults.md"
    path.write_text("\n".join(lines) + "\n")
    return path
