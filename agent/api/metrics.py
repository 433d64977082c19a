"""Prometheus metrics, rendered from the daemon's metrics snapshot.

Names follow Prometheus's conventions: base units in the name (``_seconds``, ``_ratio``),
counters end in ``_total``, latencies are histograms. ``METRIC_NAMES`` lists every
family exported (the Grafana dashboard's queries are checked against it).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

COUNTERS = {
    "cycles": "Decision cycles run",
    "fallbacks": "Cycles decided by the fallback heuristic",
    "install_errors": "Rule batches the switches rejected",
    "verify_failures": "Installs whose read-back differed",
    "reconciliations": "Re-reads of installed rules after reconnects or restarts",
    "config_errors": "Configuration reloads refused",
    "cycle_failures": "Cycles a stage failed (raised or missed its deadline); rules kept",
    "late_cycles": "Cycles that started after their tick",
    "missed_cycles": "Ticks skipped because a cycle ran over a whole interval",
}


def backend_metric(name: str) -> str:
    """A backend figure's metric name, its unit spelled out."""
    if name.endswith("_time_s"):
        name = name[: -len("_s")] + "_seconds"
    return f"agent_backend_{name}"


class DaemonCollector(Collector):
    def __init__(self, snapshot: dict[str, Any]) -> None:
        self.snapshot = snapshot  # RunningDaemon.metrics_snapshot(), taken on the daemon's loop

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot
        yield _histogram(
            "agent_decision_latency_seconds",
            "Observation in to batch ready (observe, decide, compile, diff) per cycle",
            snap["decision_seconds"],
        )
        yield _histogram(
            "agent_install_latency_seconds",
            "Time to apply and verify a batch of rule changes",
            snap["install_seconds"],
        )
        for name, help_text in COUNTERS.items():
            value = float(snap["counters"][name])
            yield CounterMetricFamily(f"agent_{name}", help_text, value=value)
        yield from self._gauges(snap)

    def _gauges(self, snap: dict[str, Any]) -> Iterator[Metric]:
        age = GaugeMetricFamily(
            "agent_monitoring_age_seconds", "Age of each switch's last report", labels=["node"]
        )
        for node, value in snap["ages"].items():
            if value is not None:
                age.add_metric([node], value)
        yield age
        rules = GaugeMetricFamily("agent_rules_installed", "Rules we own, by kind", labels=["kind"])
        for kind, count in snap["rules"].items():
            rules.add_metric([kind], count)
        yield rules
        yield GaugeMetricFamily("agent_ready", "1 once ready", value=float(snap["ready"]))
        yield GaugeMetricFamily(
            "agent_fallback_active", "1 while the fallback decides", value=float(snap["fallback"])
        )
        info = GaugeMetricFamily("agent_config_info", "The loaded configuration", labels=["hash"])
        info.add_metric([snap["config_hash"]], 1.0)
        yield info
        yield GaugeMetricFamily(
            "agent_recovery_pending_repairs",
            "Failed switches and links still to repair, in the plan",
            value=float(snap["recovery_pending"]),
        )
        yield GaugeMetricFamily(
            "agent_recovery_plan_utility",
            "Total utility the repair plan expects over the recovery",
            value=float(snap["recovery_total_utility"]),
        )
        yield from _slice_gauges(snap.get("slices", []))
        yield from _request_metrics(snap.get("requests") or {})
        for name, value in snap["backend"].items():
            yield GaugeMetricFamily(backend_metric(name), f"Backend figure {name}", value=value)


def _slice_gauges(slices: list[dict[str, Any]]) -> Iterator[Metric]:
    figures = (
        ("allocation", "agent_slice_allocation", "Allocation of each slice, in scenario units"),
        ("demand", "agent_slice_demand", "Demand of each slice, in scenario units"),
        ("rate_kbps", "agent_slice_meter_rate_bits_per_second", "Meter rate of each slice"),
        ("utility", "agent_slice_utility", "Weighted utility of each slice"),
        ("qos", "agent_slice_qos_ratio", "Share of each slice's users at their QoS floor"),
    )
    for key, name, help_text in figures:
        family = GaugeMetricFamily(name, help_text, labels=["slice"])
        scale = 1000.0 if key == "rate_kbps" else 1.0  # kbit/s to bit/s
        for piece in slices:
            family.add_metric([piece["name"]], float(piece[key]) * scale)
        yield family


def _request_metrics(requests: dict[str, Any]) -> Iterator[Metric]:
    """Deployment requests (only when they are configured)."""
    if not requests.get("configured"):
        return
    counters = (
        ("accepted", "Deployment requests accepted and installed"),
        ("rejected", "Deployment requests refused (no placement, match in use, too many)"),
        ("failed", "Deployment requests rolled back after booking (instances, install)"),
    )
    for key, help_text in counters:
        value = float(requests.get(key, 0))
        yield CounterMetricFamily(f"agent_requests_{key}", help_text, value=value)
    active = float(requests.get("active", 0))
    yield GaugeMetricFamily("agent_requests_active", "Deployment requests installed", value=active)


def _histogram(name: str, help_text: str, data: dict[str, Any]) -> HistogramMetricFamily:
    buckets = [(str(bound), float(count)) for bound, count in data["buckets"]]
    return HistogramMetricFamily(name, help_text, buckets=buckets, sum_value=data["sum"])


def render(snapshot: dict[str, Any]) -> bytes:
    registry = CollectorRegistry()
    registry.register(DaemonCollector(snapshot))
    return generate_latest(registry)
