"""The lab's metrics, in the simulator's terms: success ratio (successful / generated
flows), drops by cause and node, end-to-end delay in scenario milliseconds; plus the
SF instances' counters, a chain-order check and success ratio over time.

Drop causes: NODE_CAP (a compute host rejected the flow: no instance or no capacity),
TTL (arrived complete but later than its TTL), INCOMPLETE (arrived with packets
missing), LOST (never arrived and no compute host rejected it: no rule, a failed
element, a full queue).
"""

from __future__ import annotations

import csv
import itertools
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.model.scenario import Scenario
from mininet_labs.reportfile import read_report

CAUSES = ("NODE_CAP", "TTL", "INCOMPLETE", "LOST")


@dataclass
class LabMetrics:
    summary: dict[str, Any]
    flows: list[dict[str, Any]]
    timeline: list[dict[str, Any]]
    instances: dict[str, Any]
    info: dict[str, Any] = field(default_factory=dict)

    def write(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(
            json.dumps({**self.info, **self.summary, "instances": self.instances}, indent=1)
        )
        _csv(
            out / "metrics.csv",
            [
                {
                    **{k: v for k, v in self.summary.items() if not isinstance(v, dict)},
                    **{f"drop_{k.lower()}": v for k, v in self.summary["drops"].items()},
                }
            ],
        )
        _csv(out / "flows.csv", self.flows)
        _csv(out / "timeline.csv", self.timeline)


def _csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="") as handle:
        if not rows:
            return
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def classify(
    flows: list[dict[str, Any]],
    received: dict[str, list[Any]],
    rejected: dict[str, str],
    time_scale: float,
    ttl_ms: float,
) -> list[dict[str, Any]]:
    """One row per generated flow: outcome, cause, delay (scenario ms). Pure."""
    rows = []
    for flow in flows:
        key = f"{flow['ingress']}/{flow['flow_id']}"
        got = received.get(key)
        delay = None
        if got is not None and got[0] >= got[1]:
            delay = (got[3] - got[2]) * 1000.0 / time_scale
            outcome = "success" if delay <= ttl_ms else "TTL"
        elif got is not None:
            outcome = "INCOMPLETE"
        elif key in rejected:
            outcome = "NODE_CAP"
        else:
            outcome = "LOST"
        rows.append(
            {
                "flow_id": flow["flow_id"],
                "ingress": flow["ingress"],
                "arrival_ms": round(flow["arrival_ms"], 3),
                "packets": flow["packets"],
                "received": got[0] if got else 0,
                "outcome": outcome,
                "drop_node": rejected.get(key, "") if outcome == "NODE_CAP" else "",
                "delay_ms": round(delay, 3) if delay is not None else "",
            }
        )
    return rows


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    generated = len(rows)
    delays = sorted(r["delay_ms"] for r in rows if r["outcome"] == "success")
    successful = len(delays)
    drops = {cause: sum(r["outcome"] == cause for r in rows) for cause in CAUSES}
    by_node: dict[str, int] = {}
    for r in rows:
        if r["drop_node"]:
            by_node[r["drop_node"]] = by_node.get(r["drop_node"], 0) + 1
    return {
        "success_ratio": round(successful / generated, 6) if generated else 1.0,
        "generated": generated,
        "successful": successful,
        "dropped": generated - successful,
        "drops": drops,
        "drops_by_node": dict(sorted(by_node.items())),
        "delay_ms": round(sum(delays) / len(delays), 3) if delays else 0.0,
        "delay_p95_ms": round(delays[min(len(delays) - 1, math.ceil(0.95 * len(delays)) - 1)], 3)
        if delays
        else 0.0,
        "delay_max_ms": round(delays[-1], 3) if delays else 0.0,
    }


def timeline(rows: list[dict[str, Any]], time_scale: float, bin_s: float) -> list[dict[str, Any]]:
    """Success ratio per wall-clock bin of flow arrival."""
    bins: dict[int, list[int]] = {}
    for r in rows:
        b = int(r["arrival_ms"] * time_scale / 1000.0 // bin_s)
        entry = bins.setdefault(b, [0, 0])
        entry[0] += 1
        entry[1] += r["outcome"] == "success"
    return [
        {
            "t_s": round(b * bin_s, 3),
            "generated": g,
            "successful": s,
            "success_ratio": round(s / g, 4) if g else 1.0,
        }
        for b, (g, s) in sorted(bins.items())
    ]


def chain_order(reports: list[dict[str, Any]]) -> dict[str, int]:
    """Flows whose first packet met the chain's SFs in chain order (first-seen times
    increase with the SF position), out of those seen at two or more SFs."""
    seen: dict[tuple[int, int, int], list[tuple[int, float]]] = {}
    for report in reports:
        for fid, ingress, chain, pos, t in report.get("firsts", []):
            seen.setdefault((fid, ingress, chain), []).append((pos, t))
    checked = in_order = 0
    for visits in seen.values():
        if len(visits) < 2:
            continue
        checked += 1
        times = [t for _, t in sorted(visits)]
        in_order += all(a < b for a, b in itertools.pairwise(times))
    return {"flows_checked": checked, "flows_in_order": in_order}


def lab_metrics(
    work: Path,
    scenario: Scenario,
    time_scale: float,
    t0: float,
    bin_s: float,
    expected: Iterable[str] = (),
) -> LabMetrics:
    """The run's metrics from the reports in ``work``; LabReportError for a report in
    ``expected`` (file names) that is missing, or any report that is not JSON."""
    for name in expected:
        if not (work / name).is_file():
            read_report(work / name)  # raises, naming the file
    flows = read_report(work / "flows.json")
    received: dict[str, list[Any]] = {}
    for path in sorted(work.glob("sink-*.json")):
        received.update(read_report(path))
    reports = [read_report(p) for p in sorted(work.glob("sf-*.json"))]
    rejected: dict[str, str] = {}
    for report in reports:
        for fid, ingress, _chain, _pos, _t in report.get("rejected", []):
            rejected.setdefault(f"{ingress}/{fid}", report.get("node", "?"))
    ttl = max(scenario.traffic.config.ttl_choices)
    rows = classify(flows, received, rejected, time_scale, ttl)
    instances = {
        r["node"]: {"cap": r["cap"], "running_at_end": r["running"], "counters": r["counters"]}
        for r in reports
        if r
    }
    sources = {p.stem: read_report(p) for p in sorted(work.glob("source-*.json"))}
    summary = summarise(rows)
    summary["chain_order"] = chain_order(reports)
    summary["sources"] = sources
    return LabMetrics(summary, rows, timeline(rows, time_scale, bin_s), instances, {"t0": t0})
