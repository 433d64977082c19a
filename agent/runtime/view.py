"""The narrow interface the HTTP API sees of the running daemon."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any, Protocol

from agent.model.types import NodeReport
from agent.rules.diff import count_rules
from agent.runtime.cycle import STALL_INTERVALS, DecisionCycle, StageFailed
from agent.runtime.overrides import OverrideSpec


class DaemonView(Protocol):
    """What the API may see and do. Async: in the daemon's process these are plain
    reads; in the API's own process reads come from what the daemon published, and
    writes travel to the daemon and back."""

    async def status(self) -> dict[str, Any]: ...
    async def ready_checks(self) -> list[str]: ...
    async def topology(self) -> dict[str, Any]: ...
    async def latest_decision(self) -> dict[str, Any] | None: ...
    async def rules_json(self) -> bytes: ...
    async def rules_list(self) -> list[dict[str, Any]]: ...
    async def overrides(self) -> list[dict[str, Any]]: ...
    async def add_override(self, spec: OverrideSpec) -> int: ...
    async def remove_override(self, key: int | None) -> bool: ...
    async def check_policy(self, name: str) -> str | None: ...
    async def metrics_snapshot(self) -> dict[str, Any]: ...
    async def recovery(self) -> dict[str, Any]: ...
    async def slices(self) -> dict[str, Any]: ...


class RunningDaemon:
    """Implements DaemonView over a DecisionCycle and what the service knows about itself."""

    def __init__(self, daemon: DecisionCycle, config_source: str) -> None:
        self.daemon = daemon
        self.config_source = config_source
        self.started = time.time()
        self._rules: tuple[int, bytes] = (-1, b"")

    @property
    def config_hash(self) -> str:
        text = json.dumps(self.daemon.config.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def _status(self) -> dict[str, Any]:
        d = self.daemon
        cycle = d.last_cycle
        counts = count_rules(d.installed)
        return {
            "backend": d.backend.name,
            "policy": d.policy_name,
            "fallback_policy": d.config.fallback,
            "ready": d.ready,
            "started_at": self.started,
            "uptime_s": round(time.time() - self.started, 3),
            "config": {"source": self.config_source, "hash": self.config_hash},
            "last_decision_at": cycle.started if cycle else None,
            "last_decision_by": cycle.policy if cycle else None,
            "fallback": {
                "active": bool(cycle and cycle.fallback),
                "reason": cycle.fallback if cycle else None,
            },
            "last_cycle": None
            if cycle is None
            else {
                "latency_ms": cycle.latency_ms,
                "changes": cycle.changes,
                "install_ok": cycle.install_ok,
                "errors": cycle.errors,
            },
            "last_install_error": d.last_error,
            "monitoring_age_s": d.backend.report_ages(),
            "installed_rules": {
                "flows": counts.flows,
                "groups": counts.groups,
                "meters": counts.meters,
            },
            "counters": self._counters(),
            "backend_stats": d.backend.stats(),
            "overrides": d.overrides.listing(),
            "instances": {n: sorted(sfs) for n, sfs in sorted(d.instances.running().items())},
            **(
                {"deployments": {"configured": True, **d.requests.book.summary()}}
                if d.requests is not None
                else {}
            ),
        }

    def _counters(self) -> dict[str, int]:
        c = self.daemon.counters
        return {
            "cycles": c.cycles,
            "fallbacks": c.fallbacks,
            "install_errors": c.install_errors,
            "verify_failures": c.verify_failures,
            "reconciliations": c.reconciliations,
            "config_errors": c.config_errors,
            "cycle_failures": c.cycle_failures,
            "late_cycles": c.late_cycles,
            "missed_cycles": c.missed_cycles,
        }

    def _ready_checks(self, stall: bool = True) -> list[str]:
        d, failing = self.daemon, []
        if d.backend.observation() is None:
            failing.append("no observation received yet")
        if d.last_cycle is None:
            failing.append("no decision made yet")
        elif not d.ready:
            failing.append("rules not installed yet")
        stalled = d.stalled() if stall else None
        if stalled:
            failing.append(f"decision cycle stuck: {stalled}")
        return failing

    def _topology(self) -> dict[str, Any]:
        d = self.daemon
        net = d.scenario.network
        down_nodes, down_links = d.backend.down()
        observed = d.backend.observation()
        reports = observed.reports if observed is not None else {}
        return {
            "name": net.name,
            "nodes": [
                {
                    "id": n.id,
                    "kind": n.kind.value,
                    "cap": n.cap,
                    "label": n.label,
                    "down": n.id in down_nodes,
                    "dpid": d.backend.wiring.dpids.get(n.id),
                    "latitude": n.latitude,
                    "longitude": n.longitude,
                    **_report(reports.get(n.id)),
                }
                for n in net.nodes
            ],
            "links": [
                {
                    "a": link.a,
                    "b": link.b,
                    "cap": link.cap,
                    "delay_ms": link.delay,
                    "down": link.key in down_links,
                }
                for link in net.links
            ],
            "chains": {name: list(sfs) for name, sfs in d.scenario.services.chains.items()},
        }

    def _latest_decision(self) -> dict[str, Any] | None:
        decision, cycle = self.daemon.last_decision, self.daemon.last_cycle
        if decision is None or cycle is None:
            return None
        return {
            "at": cycle.started,
            "policy": cycle.policy,
            "fallback_reason": cycle.fallback,
            "placement": {node: list(sfs) for node, sfs in decision.placement.items()},
            "schedule": decision.schedule,
            "notes": list(decision.notes),
        }

    def rules_body(self) -> bytes:
        return self._rules_json()

    def _rules_json(self) -> bytes:
        """``{"rules": [...]}`` encoded once per change of the installed rules. Safe from
        any thread: ``installed`` is replaced, never changed in place."""
        d = self.daemon
        version, intents = d.installed_version, d.installed
        cached = self._rules
        if cached[0] != version:
            body = json.dumps({"rules": [intent.to_json() for intent in intents]})
            cached = self._rules = (version, body.encode())
        return cached[1]

    async def check_policy(self, name: str) -> str | None:
        """Why ``name`` cannot decide on this network, or None (built in a worker)."""
        try:
            await self.daemon.load_policies(name)
        except StageFailed as exc:  # unknown name, broken files, trained for another network
            return f"override.name: {str(exc).split(': ', 1)[-1]}"
        return None

    # the DaemonView interface, in the daemon's own process
    async def status(self) -> dict[str, Any]:
        return self._status()

    async def ready_checks(self) -> list[str]:
        return self._ready_checks()

    async def topology(self) -> dict[str, Any]:
        return self._topology()

    async def latest_decision(self) -> dict[str, Any] | None:
        return self._latest_decision()

    async def rules_json(self) -> bytes:
        return self._rules_json()

    async def rules_list(self) -> list[dict[str, Any]]:
        return [intent.to_json() for intent in self.daemon.installed]

    async def overrides(self) -> list[dict[str, Any]]:
        return self._overrides()

    async def add_override(self, spec: OverrideSpec) -> int:
        return self._add_override(spec)

    async def remove_override(self, key: int | None) -> bool:
        return self._remove_override(key)

    async def metrics_snapshot(self) -> dict[str, Any]:
        return self._metrics_snapshot()

    async def recovery(self) -> dict[str, Any]:
        return self._recovery()

    async def slices(self) -> dict[str, Any]:
        return self._slices()

    def _slices(self) -> dict[str, Any]:
        """The slicing engine's last step (allocation, demand, utility, QoS per slice)."""
        d = self.daemon
        if d.slicing is None:
            return {"configured": False, "step": None, "slices": []}
        if d.last_slicing is None:
            return {"configured": True, "method": d.slicing.method, "step": None, "slices": []}
        return {"configured": True, **d.last_slicing.to_json()}

    def publication(self) -> dict[str, Any]:
        """Everything the API's own process serves, as JSON values, taken at once."""
        d = self.daemon
        completed = d.last_completed
        return {
            "status": self._status(),
            "ready_checks": self._ready_checks(stall=False),
            "last_completed_wall": None
            if completed is None
            else time.time() - (d.clock() - completed),
            "stall_limit_s": STALL_INTERVALS * d.config.decision_interval,
            "topology": self._topology(),
            "decision": self._latest_decision(),
            "overrides": self._overrides(),
            "recovery": self._recovery(),
            "slices": self._slices(),
            "metrics": self._metrics_snapshot(),
            "rules_version": d.installed_version,
            "published_at": time.time(),
        }

    def _overrides(self) -> list[dict[str, Any]]:
        return self.daemon.overrides.listing()

    def _add_override(self, spec: OverrideSpec) -> int:
        return self.daemon.overrides.add(spec)

    def _remove_override(self, key: int | None) -> bool:
        if key is None:
            self.daemon.overrides.clear()
            return True
        return self.daemon.overrides.remove(key)

    def _recovery(self) -> dict[str, Any]:
        report = self.daemon.recovery
        if report is None:
            return {"failed": False, "down_nodes": [], "down_links": [], "plan": None}
        return {"failed": True, **report.model_dump(mode="json")}

    def _metrics_snapshot(self) -> dict[str, Any]:
        d = self.daemon
        counts = count_rules(d.installed)
        cycle = d.last_cycle
        return {
            "decision_seconds": d.counters.decision_seconds.to_json(),
            "install_seconds": d.counters.install_seconds.to_json(),
            "last_install_seconds": cycle.latency_ms.get("install", 0.0) / 1000.0 if cycle else 0.0,
            "counters": self._counters(),
            "ages": d.backend.report_ages(),
            "rules": {"flow": counts.flows, "group": counts.groups, "meter": counts.meters},
            "ready": d.ready,
            "fallback": bool(cycle and cycle.fallback),
            "config_hash": self.config_hash,
            "recovery_pending": len(d.recovery.plan.steps) if d.recovery else 0,
            "recovery_total_utility": d.recovery.plan.total_utility if d.recovery else 0.0,
            "backend": d.backend.stats(),
            "slices": [s.to_json() for s in d.last_slicing.slices] if d.last_slicing else [],
        }


def _report(report: NodeReport | None) -> dict[str, Any]:
    """A node's last monitoring report as the live page draws it (None: not reported)."""
    if report is None:
        return {"load": None, "ingress_traffic": None, "traffic": {}}
    return {
        "load": report.load,
        "ingress_traffic": report.ingress_traffic,
        "traffic": {chain: dict(rates) for chain, rates in report.traffic.items()},
    }
