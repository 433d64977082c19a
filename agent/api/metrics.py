"""Prometheus metrics, read from the daemon when scraped."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


class DaemonCollector(Collector):
    def __init__(self, snapshot: dict[str, Any]) -> None:
        self.snapshot = snapshot  # RunningDaemon.metrics_snapshot(), taken on the daemon's loop

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot
        latency = GaugeMetricFamily(
            "agent_decision_latency_ms",
            "Observe + decide + compile + diff latency of recent cycles",
            labels=["quantile"],
        )
        for quantile, value in snap["latency_quantiles"].items():
            latency.add_metric([quantile], value)
        yield latency
        yield GaugeMetricFamily(
            "agent_install_latency_ms",
            "Install latency of the last cycle",
            value=snap["install_ms"],
        )
        yield from self._counters(snap)
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
        for name, value in snap["backend"].items():
            yield GaugeMetricFamily(f"agent_backend_{name}", f"Backend figure {name}", value=value)

    def _counters(self, snap: dict[str, object]) -> Iterator[Metric]:
        counters = snap["counters"]
        assert isinstance(counters, dict)
        helps = {
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
        for name, help_text in helps.items():
            yield CounterMetricFamily(f"agent_{name}", help_text, value=float(counters[name]))


def render(snapshot: dict[str, Any]) -> bytes:
    registry = CollectorRegistry()
    registry.register(DaemonCollector(snapshot))
    return generate_latest(registry)
