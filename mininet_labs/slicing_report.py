"""The slicing lab's figures: steady-state throughput against allocation per slice, the
reaction to the demand spike, a markdown report and a PNG.

Units: kbit/s of Ethernet frames throughout (what the meters and the flow counters count).

Steady state, per slice and ``bin_s`` bin: the meter's rate read back from the switch and
the class's scheduled demand have both been unchanged for ``SETTLE_S`` before the bin and
through it, after ``WARMUP_S`` of traffic. The bin's expected throughput is min(offered,
meter rate): the allocation where demand exceeds it ("capped"), the demand where it is
below ("uncapped"). A slice's steady-state error is |received - expected| / expected
over all its steady bins.

Spike reaction: the new allocation is the spiking slice's rate in the daemon's first
decision whose measured demand shows the spike (at least ``SPIKE_SEEN`` of the way from
the demand before to the demand after it); the reaction time runs from the spike's start
to the first ``dump-meters`` read-back of that rate, in decision intervals.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mininet_labs.reportfile import read_report

if TYPE_CHECKING:
    from mininet_labs.slicing import SlicingLabConfig

SETTLE_S = 0.5
WARMUP_S = 6.0
SPIKE_SEEN = 0.75
DEMAND_STEADY_S = 3.0
NEAR = 0.05  # offered within 5 % of the meter rate: neither capped nor uncapped
TOLERANCE = 0.15


@dataclass
class LabRecord:
    t0: float
    schedule: dict[str, Any]
    meters: list[tuple[float, dict[int, int]]]  # wall time of the read-back, id -> kbit/s
    slices: list[tuple[float, dict[str, Any]]]  # wall time of the poll, GET /slices body
    work: Path


@dataclass
class SliceFigures:
    name: str
    steady_bins: int = 0
    capped_bins: int = 0
    uncapped_bins: int = 0
    error: float | None = None  # |received - expected| / expected over steady bins
    capped_error: float | None = None  # received / allocation - 1 where capped
    uncapped_error: float | None = None  # received / demand - 1 where uncapped
    bins_within: float | None = None  # share of steady bins within TOLERANCE
    mean_offered_kbps: float = 0.0
    mean_received_kbps: float = 0.0
    demand_decisions: int = 0  # decisions taken while the class's demand was steady
    demand_error_median: float | None = None  # |measured / offered - 1| over those
    demand_error_p90: float | None = None


@dataclass
class Reaction:
    slice: str
    spike_at: float
    demand_before_kbps: float
    demand_after_kbps: float
    rate_before_kbps: int | None = None
    new_rate_kbps: int | None = None
    decided_after_s: float | None = None  # first poll of the decision that saw the spike
    on_switch_after_s: float | None = None
    intervals: float | None = None
    first_change_after_s: float | None = None


@dataclass
class SlicingResult:
    config: dict[str, Any]
    slices: list[SliceFigures]
    reaction: Reaction
    decisions: int
    series: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def steady_ok(self) -> bool:
        return all(s.error is not None and s.error <= TOLERANCE for s in self.slices)

    @property
    def reaction_ok(self) -> bool:
        return self.reaction.intervals is not None and self.reaction.intervals <= 2.0

    def to_json(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "slices": [asdict(s) for s in self.slices],
            "reaction": asdict(self.reaction),
            "decisions": self.decisions,
            "steady_ok": self.steady_ok,
            "reaction_ok": self.reaction_ok,
        }


def _rate_at(segments: list[list[float]], t: float) -> float:
    return next((float(k) for a, b, k in segments if a <= t < b), 0.0)


def _meter_at(meters: list[tuple[float, int]], t: float) -> int | None:
    """The rate read back last at or before ``t`` (seconds from t0)."""
    rate = None
    for when, value in meters:
        if when > t:
            break
        rate = value
    return rate


def _changes_within(times: list[float], a: float, b: float) -> bool:
    return any(a < t <= b for t in times)


def _kbps(bins: dict[str, int], index: int, bin_s: float) -> float:
    return bins.get(str(index), 0) * 8 / 1000 / bin_s


def _slice_figures(
    name: str,
    segments: list[list[float]],
    meters: list[tuple[float, int]],
    sent: dict[str, int],
    received: dict[str, int],
    bin_s: float,
    duration: float,
) -> tuple[SliceFigures, list[dict[str, float]]]:
    figures, rows = SliceFigures(name), []
    demand_changes = [float(a) for a, _, _ in segments[1:]]
    meter_changes = [t for t, _ in meters]
    sums = {"capped": [0.0, 0.0], "uncapped": [0.0, 0.0], "all": [0.0, 0.0]}
    deviation, within = 0.0, 0
    for index in range(int(duration / bin_s)):
        a, b = index * bin_s, (index + 1) * bin_s
        offered, got = _kbps(sent, index, bin_s), _kbps(received, index, bin_s)
        rate = _meter_at(meters, b)
        rows.append({"t": a, "offered": offered, "received": got, "meter": rate or 0.0})
        if a < WARMUP_S or rate is None:
            continue
        if _changes_within(demand_changes + meter_changes, a - SETTLE_S, b):
            continue
        expected = min(offered, float(rate))
        if expected <= 0:
            continue
        figures.steady_bins += 1
        regime = "near"
        if offered > (1 + NEAR) * rate:
            regime, figures.capped_bins = "capped", figures.capped_bins + 1
        elif offered < (1 - NEAR) * rate:
            regime, figures.uncapped_bins = "uncapped", figures.uncapped_bins + 1
        for key in {"all", regime} - {"near"}:
            sums[key][0] += got
            sums[key][1] += expected
        deviation += abs(got - expected)
        within += abs(got / expected - 1) <= TOLERANCE
    if figures.steady_bins:
        figures.error = round(deviation / sums["all"][1], 4)
        figures.bins_within = round(within / figures.steady_bins, 4)
    for key, attr in (("capped", "capped_error"), ("uncapped", "uncapped_error")):
        if sums[key][1] > 0:
            setattr(figures, attr, round(sums[key][0] / sums[key][1] - 1, 4))
    if rows:
        figures.mean_offered_kbps = round(sum(r["offered"] for r in rows) / len(rows), 1)
        figures.mean_received_kbps = round(sum(r["received"] for r in rows) / len(rows), 1)
    return figures, rows


def _reaction(
    record: LabRecord, cfg: SlicingLabConfig, meters: list[tuple[float, int]]
) -> Reaction:
    start, _ = cfg.spike_window()
    name = cfg.spike_slice
    segments = next(c["segments"] for c in record.schedule["classes"] if c["name"] == name)
    before, after = _rate_at(segments, start - 1e-6), _rate_at(segments, start)
    reaction = Reaction(name, start, before, after, _meter_at(meters, start))
    seen = before + SPIKE_SEEN * (after - before)
    for when, body in record.slices:
        t = when - record.t0
        piece = next((s for s in body["slices"] if s["name"] == name), None)
        if t < start or piece is None or (piece.get("demand_kbps") or 0.0) < seen:
            continue
        reaction.new_rate_kbps = max(1, round(piece["rate_kbps"]))
        reaction.decided_after_s = round(t - start, 3)
        break
    for t, rate in meters:
        if (
            t >= start
            and reaction.first_change_after_s is None
            and rate != reaction.rate_before_kbps
        ):
            reaction.first_change_after_s = round(t - start, 3)
        if (
            t >= start
            and reaction.new_rate_kbps is not None
            and abs(rate - reaction.new_rate_kbps) <= 1
        ):
            reaction.on_switch_after_s = round(t - start, 3)
            reaction.intervals = round((t - start) / cfg.decision_interval, 3)
            break
    return reaction


def analyse(record: LabRecord, cfg: SlicingLabConfig, meter_ids: dict[str, int]) -> SlicingResult:
    sent = read_report(record.work / "sent.json")["sent"]
    received = read_report(record.work / "sink.json")["received"]
    figures, series = [], {}
    for c in record.schedule["classes"]:
        name, mid = c["name"], meter_ids[c["name"]]
        measured = _measured(record, name)
        meters = [(t - record.t0, m[mid]) for t, m in record.meters if mid in m]
        slice_figures, rows = _slice_figures(
            name,
            c["segments"],
            meters,
            sent.get(name, {}),
            received.get(str(c["port"]), {}),
            cfg.bin_s,
            cfg.duration,
        )
        _demand_accuracy(slice_figures, c["segments"], sent.get(name, {}), measured, cfg.bin_s)
        figures.append(slice_figures)
        series[name] = {"bins": rows, "meters": meters, "measured": measured}
    mid = meter_ids[cfg.spike_slice]
    spike_meters = [(t - record.t0, m[mid]) for t, m in record.meters if mid in m]
    steps = {body["step"] for _, body in record.slices}
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()}
    config["spike_window"] = list(cfg.spike_window())
    return SlicingResult(config, figures, _reaction(record, cfg, spike_meters), len(steps), series)


def _demand_accuracy(
    figures: SliceFigures,
    segments: list[list[float]],
    sent: dict[str, int],
    measured: list[tuple[float, float, float]],
    bin_s: float,
) -> None:
    """The daemon's measured demand against what the sender sent, for the decisions seen
    while the class's demand had been steady for ``DEMAND_STEADY_S``."""
    changes = [float(a) for a, _, _ in segments[1:]]
    errors = []
    for t, demand, _ in measured:
        if t < WARMUP_S or _changes_within(changes, t - DEMAND_STEADY_S, t):
            continue
        bins = range(int((t - DEMAND_STEADY_S) / bin_s), int(t / bin_s))
        offered = sum(_kbps(sent, i, bin_s) for i in bins) / len(bins)
        if offered > 0:
            errors.append(abs(demand / offered - 1))
    if errors:
        errors.sort()
        figures.demand_decisions = len(errors)
        figures.demand_error_median = round(errors[len(errors) // 2], 4)
        figures.demand_error_p90 = round(errors[min(len(errors) - 1, int(0.9 * len(errors)))], 4)


def _measured(record: LabRecord, name: str) -> list[tuple[float, float, float]]:
    """(time of the first poll that showed a decision, measured demand, allocation)."""
    out, last = [], None
    for when, body in record.slices:
        if body["step"] == last:
            continue
        last = body["step"]
        piece = next((s for s in body["slices"] if s["name"] == name), None)
        if piece is not None:
            out.append((when - record.t0, piece.get("demand_kbps") or 0.0, piece["rate_kbps"]))
    return out


# ---------------------------------------------------------------- the report files


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:+.1f} %"


def _abs_pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


def markdown(result: SlicingResult, command: str) -> str:
    cfg, r = result.config, result.reaction
    start, end = cfg["spike_window"]
    lines = [
        "# Slicing lab: allocation from measured demand, on switches",
        "",
        f"Command: `{command}`",
        "",
        f"Three DSCP classes (eMBB 10, URLLC 46, mMTC 8) from one source over a "
        f"{cfg['link_mbps']} Mbit/s bottleneck (pop0-pop1); the daemon (controller backend, "
        f"slicing method `{cfg['method']}`, {cfg['kbps_per_unit']} kbit/s a unit) allocates "
        f"per slice every {cfg['decision_interval']} s from the demand it measures on the "
        f"switch and installs one meter per slice. Demand plays the slicing scenario, one "
        f"step every {cfg['step_s']} s; {r.slice} x{cfg['spike_factor']} from {start:g} s "
        f"to {end:g} s. {cfg['duration']} s of traffic, {result.decisions} decisions seen. "
        "Rates are kbit/s of Ethernet frames.",
        "",
        "## Steady state: throughput against allocation",
        "",
        "| slice | mean offered | mean received | steady bins | capped / uncapped | "
        "error | capped: recv/alloc-1 | uncapped: recv/demand-1 | bins within 15 % |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in result.slices:
        lines.append(
            f"| {s.name} | {s.mean_offered_kbps:.0f} | {s.mean_received_kbps:.0f} | "
            f"{s.steady_bins} | {s.capped_bins} / {s.uncapped_bins} | {_abs_pct(s.error)} | "
            f"{_pct(s.capped_error)} | {_pct(s.uncapped_error)} | {_abs_pct(s.bins_within)} |"
        )
    lines += [
        "",
        "Measured demand (the daemon's, from the flow counters) against what the sender "
        f"sent, for decisions taken after {DEMAND_STEADY_S:g} s of unchanged demand:",
        "",
        "| slice | decisions | median error | 90th percentile |",
        "|---|---|---|---|",
    ]
    for s in result.slices:
        lines.append(
            f"| {s.name} | {s.demand_decisions} | {_abs_pct(s.demand_error_median)} | "
            f"{_abs_pct(s.demand_error_p90)} |"
        )
    lines += [
        "",
        f"Done when every slice's steady-state error is within 15 %: "
        f"**{'yes' if result.steady_ok else 'no'}**.",
        "",
        "## Spike: time to the new allocation on the switch",
        "",
        f"- {r.slice}: demand {r.demand_before_kbps:.0f} -> {r.demand_after_kbps:.0f} kbit/s "
        f"at {r.spike_at:g} s; meter before: {r.rate_before_kbps} kbit/s",
        f"- first decision that measured the spike: {r.decided_after_s} s after it, "
        f"allocating {r.new_rate_kbps} kbit/s",
        f"- first meter change read back: {r.first_change_after_s} s after the spike",
        f"- new allocation read back (`dump-meters`): {r.on_switch_after_s} s after the "
        f"spike = **{r.intervals} decision intervals**",
        "",
        f"Done when within two decision intervals: **{'yes' if result.reaction_ok else 'no'}**.",
        "",
        "![allocated and measured throughput per slice](slicing.png)",
        "",
    ]
    return "\n".join(lines)


def chart(result: SlicingResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(result.series)
    fig, axes = plt.subplots(len(names), 1, figsize=(10, 2.6 * len(names)), sharex=True)
    start, end = result.config["spike_window"]
    for ax, name in zip(axes, names, strict=True):
        data = result.series[name]
        t = [row["t"] for row in data["bins"]]
        ax.plot(t, [row["offered"] for row in data["bins"]], color="0.6", lw=1, label="offered")
        ax.plot(
            t,
            [row["received"] for row in data["bins"]],
            color="C0",
            lw=1.4,
            label="received (sink)",
        )
        if data["meters"]:
            mt, mr = zip(*data["meters"], strict=True)
            ax.step(mt, mr, where="post", color="C3", lw=1.4, label="allocation (meter)")
        if data["measured"]:
            dt, dm, _ = zip(*data["measured"], strict=True)
            ax.plot(dt, dm, "o", ms=3, color="C2", label="measured demand (daemon)")
        if name == result.reaction.slice:
            ax.axvspan(start, end, color="C1", alpha=0.12, label="spike")
        ax.set_ylabel(f"{name}\nkbit/s")
        ax.grid(alpha=0.3)
    axes[0].legend(loc="upper left", fontsize=7, ncol=5)
    axes[-1].set_xlabel("seconds of traffic")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write_files(result: SlicingResult, out: Path, command: str) -> Path:
    """slicing.json, slicing.md and slicing.png under ``out``; the markdown's path."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "slicing.json").write_text(json.dumps(result.to_json(), indent=2) + "\n")
    chart(result, out / "slicing.png")
    path = out / "slicing.md"
    path.write_text(markdown(result, command))
    return path
