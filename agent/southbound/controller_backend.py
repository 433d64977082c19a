"""The controller backend: the os-ken app in front of real switches.

A background task keeps one connection to the controller (reconnecting after any
failure), subscribes to statistics and events, and keeps per switch the latest report
and when the controller received it. Any (re)connection and any switch coming up asks
the daemon to reconcile: re-read what is installed and re-install what is missing.

Observations come from port statistics, in the simulator's units (so that a policy
sees here what it saw in training): ``units.rate_mbps`` Mbit/s make one unit of data
rate and ``units.time_scale`` wall ms one scenario ms. A node's load is the rate it
sends to its SF host; its ingress traffic, in the simulator the summed rate of the
flows that arrived in the interval, is the mean rate entering on its ingress ports
times interval / the scenario's typical flow duration (in a steady state the two are
equal); its arrivals are that over the mean flow rate.

Slices' traffic: once the daemon asks for ``slice_counters`` (slicing configured), the
backend also subscribes to flow statistics, every ``SLICE_POLL_S`` at most, and logs
the byte counter of each slice flow (table 0, ``SLICE_PRIORITY``) each time it changes,
with when that value was first seen. Open vSwitch refreshes flow counters in steps
(about every 0.5 s on 3.1), so the time a value was first seen dates it more closely
than the time of the record that carried it. Port observations keep their window of
one ``poll_interval`` whatever the subscription's pace.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import structlog

from agent.model.scenario import Scenario
from agent.model.types import Decision, NodeReport, Observation
from agent.model.wiring import Wiring, load_wiring
from agent.protocol import (
    DEFAULT_SECTIONS,
    BatchError,
    Event,
    FlowStats,
    Monitor,
    PortStats,
    Section,
)
from agent.rules.diff import Change
from agent.rules.intents import Intent, MatchValue
from agent.rules.slices import SLICE_PRIORITY
from agent.southbound.base import BackendEvents, InstallError, InstallResult, Snapshot
from agent.southbound.controller_client import ControllerClient, ControllerUnavailable

log = structlog.get_logger("agent.southbound")
RECONNECT_S = 1.0
SLICE_POLL_S = 0.25  # subscription pace while slice counters are wanted
SLICE_HISTORY_S = 10.0  # how long counter changes are kept
RECENT_RECORDS = 16  # per switch, to find the record one poll_interval back

Match = tuple[tuple[str, MatchValue], ...]


@dataclass(frozen=True)
class CounterPoint:
    """A flow's byte counter took this value; ``seen`` is the controller's time of the
    first record that showed it."""

    seen: float
    bytes: int


@dataclass(frozen=True)
class SwitchCounters:
    """A switch's slice flows (by match), each with its counter's recent values, oldest
    first; ``ts`` is when its latest record was read."""

    ts: float
    flows: Mapping[Match, tuple[CounterPoint, ...]]


class SliceFlowLog:
    """The recent values of every slice flow's byte counter, per switch."""

    def __init__(self, keep_s: float = SLICE_HISTORY_S) -> None:
        self.keep_s = keep_s
        self._points: dict[int, dict[Match, list[CounterPoint]]] = {}
        self._ts: dict[int, float] = {}

    def add(self, dpid: int, ts: float, flows: Iterable[FlowStats]) -> None:
        """One record's flows; a slice flow it no longer lists is forgotten."""
        if ts <= self._ts.get(dpid, float("-inf")):
            return  # an older record than one already seen
        before = self._points.get(dpid, {})
        now: dict[Match, list[CounterPoint]] = {}
        for f in flows:
            if f.table != 0 or f.priority != SLICE_PRIORITY:
                continue
            points = now[f.match] = before.get(f.match, [])
            if not points or points[-1].bytes != f.byte_count:
                points.append(CounterPoint(ts, f.byte_count))
            while len(points) > 1 and points[1].seen <= ts - self.keep_s:
                del points[0]  # the newest point older than keep_s stays: a window start
        self._points[dpid], self._ts[dpid] = now, ts

    def drop(self, dpid: int) -> None:
        self._points.pop(dpid, None)
        self._ts.pop(dpid, None)

    def counters(self, dpids: Iterable[int]) -> dict[int, SwitchCounters]:
        return {
            d: SwitchCounters(self._ts[d], {m: tuple(p) for m, p in self._points[d].items()})
            for d in dpids
            if d in self._ts
        }


class ControllerBackend:
    name = "controller"

    def __init__(
        self,
        connect: str,
        wiring_path: str,
        scenario: Scenario,
        poll_interval: float = 1.0,
        clock: Callable[[], float] = time.time,
        rate_mbps: float = 1.0,
        time_scale: float = 1.0,
    ) -> None:
        self.address = connect
        self.rate_mbps = rate_mbps
        self.time_scale = time_scale
        self.scenario = scenario
        self.network = scenario.network
        self.wiring: Wiring = load_wiring(wiring_path, scenario.network)
        self.events = BackendEvents()
        self.poll_interval = poll_interval
        self.clock = clock
        self.client: ControllerClient | None = None
        self.connected: set[int] = set()  # dpids whose switch is up
        self.latest: dict[int, Monitor] = {}
        self.previous: dict[int, Monitor] = {}
        self.down_ports: set[tuple[int, int]] = set()
        self._node_of = {dpid: node for node, dpid in self.wiring.dpids.items()}
        self._task: asyncio.Task[None] | None = None
        self._step = 0
        self._recent: dict[int, deque[Monitor]] = {}
        self.slice_log = SliceFlowLog()
        self._want_flows = False  # set by the first slice_counters call
        self._resubscribing: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="controller-backend")

    async def stop(self) -> None:
        for task in (self._resubscribing, self._task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self.client is not None:
            await self.client.close()

    # ------------------------------------------------------------------ connection
    async def _run(self) -> None:
        while True:
            try:
                await self._session()
            except (ControllerUnavailable, OSError) as exc:
                log.warning("controller unavailable", address=self.address, error=str(exc))
            except Exception:  # a bad message must not end monitoring for good
                log.exception("controller session failed; reconnecting")
            if self.client is not None:
                await self.client.close()
            self.client = None
            self.connected.clear()
            await asyncio.sleep(RECONNECT_S)

    async def _session(self) -> None:
        client = ControllerClient(self.address)
        hello = await client.connect()
        self.client = client
        self.connected = {d for d in hello.datapaths if d in self._node_of}
        await self._subscribe(client)
        self.events.reconcile_reasons.append("controller connected")
        log.info("controller connected", controller=hello.controller, switches=len(self.connected))
        async for note in client.notifications():
            if isinstance(note, Monitor):
                self._on_monitor(note)
            elif isinstance(note, Event):
                self._on_event(note)

    async def _subscribe(self, client: ControllerClient) -> None:
        if self._want_flows:
            sections: frozenset[Section] = DEFAULT_SECTIONS | {"flows"}
            await client.subscribe(min(self.poll_interval, SLICE_POLL_S), sections)
        else:
            await client.subscribe(self.poll_interval)

    def _on_monitor(self, note: Monitor) -> None:
        """The newest record is ``latest``; ``previous`` the newest one at least about
        ``poll_interval`` older (the window of port observations); slice flows logged."""
        if note.flows is not None:
            self.slice_log.add(note.dpid, note.ts, note.flows)
            note = dataclasses.replace(note, flows=None)
        recent = self._recent.setdefault(note.dpid, deque(maxlen=RECENT_RECORDS))
        recent.append(note)
        horizon = note.ts - 0.95 * self.poll_interval
        older = [r for r in recent if r.ts <= horizon]
        self.previous[note.dpid] = older[-1] if older else recent[0]
        self.latest[note.dpid] = note
        self._step += 1

    def slice_counters(self) -> dict[int, SwitchCounters]:
        """Recent byte counts of the slice flows of every connected switch that reported
        them. The first call subscribes to flow statistics (so it returns nothing yet)."""
        if not self._want_flows:
            self._want_flows = True
            if self.client is not None:
                self._resubscribing = asyncio.get_running_loop().create_task(
                    self._resubscribe(self.client), name="controller-resubscribe"
                )
        return self.slice_log.counters(sorted(self.connected))

    async def _resubscribe(self, client: ControllerClient) -> None:
        try:
            await self._subscribe(client)
        except (ControllerUnavailable, OSError) as exc:  # the next session subscribes
            log.warning("cannot subscribe to flow statistics", error=str(exc))

    def _on_event(self, event: Event) -> None:
        if event.event == "switch_up" and event.dpid is not None:
            self.connected.add(event.dpid)
            self.events.reconcile_reasons.append(f"switch {event.dpid} up")
        elif event.event == "switch_down" and event.dpid is not None:
            self.connected.discard(event.dpid)
            self.latest.pop(event.dpid, None)
            self._recent.pop(event.dpid, None)
            self.slice_log.drop(event.dpid)
        elif event.event == "port_status" and event.dpid is not None:
            key = (event.dpid, int(event.data.get("port_no", -1)))
            if event.data.get("up", True):
                self.down_ports.discard(key)
            else:
                self.down_ports.add(key)
        log.info("switch event", kind=event.event, dpid=event.dpid, details=event.data)

    # ------------------------------------------------------------------ state
    def report_ages(self) -> dict[str, float | None]:
        now = self.clock()
        ages: dict[str, float | None] = dict.fromkeys(self.network.node_ids)
        for dpid, record in self.latest.items():
            node = self._node_of.get(dpid)
            if node is not None and dpid in self.connected:
                ages[node] = max(0.0, now - record.ts)
        return ages

    def down(self) -> tuple[frozenset[str], frozenset[frozenset[str]]]:
        if self.client is None:  # nothing known: assume nothing failed
            return frozenset(), frozenset()
        nodes = frozenset(n for n, d in self.wiring.dpids.items() if d not in self.connected)
        links = set()
        for (a, b), port in self.wiring.ports.items():
            if (self.wiring.dpids[a], port) in self.down_ports:
                links.add(frozenset((a, b)))
        return nodes, frozenset(links)

    def unreachable(self) -> frozenset[int]:
        if self.client is None:
            return frozenset()  # the whole batch fails anyway, and is retried
        return frozenset(d for d in self.wiring.dpids.values() if d not in self.connected)

    def observation(self) -> Observation | None:
        if not self.latest:
            return None
        now = self.clock()
        reports = {}
        spans = []
        for dpid, record in self.latest.items():
            node = self._node_of.get(dpid)
            if node is None or dpid not in self.connected:
                continue
            before = self.previous.get(dpid, record)
            reports[node] = self._report(node, record, before, now)
            if record.ts > before.ts:
                spans.append(record.ts - before.ts)
        down_nodes, down_links = self.down()
        span = sum(spans) / len(spans) if spans else self.poll_interval
        return Observation(
            time=now * 1000.0 / self.time_scale,
            step=self._step,
            interval=span * 1000.0 / self.time_scale,
            reports=reports,
            missing=tuple(n for n in self.network.node_ids if n not in reports),
            down_nodes=down_nodes,
            down_links=down_links,
        )

    def _report(self, node: str, record: Monitor, before: Monitor, now: float) -> NodeReport:
        span = max(record.ts - before.ts, 1e-9)
        ingress = self.wiring.ingress_ports.get(node, ())
        sf_port = self.wiring.sf_ports.get(node)
        rx_bytes = _delta(record, before, ingress, _received)
        to_sf = _delta(record, before, (sf_port,) if sf_port else (), _sent)
        per_unit = 8e-6 / span / self.rate_mbps  # bytes in the span -> units of data rate
        interval_ms = span * 1000.0 / self.time_scale
        cfg = self.scenario.traffic.config
        duration = cfg.typical_flow_duration_ms
        ok = 0 < duration < float("inf")
        requested = rx_bytes * per_unit * interval_ms / duration if ok else 0.0
        load = to_sf * per_unit
        return NodeReport(
            node=node,
            measured_at=record.ts * 1000.0 / self.time_scale,
            age=(now - record.ts) * 1000.0 / self.time_scale,
            cap=self.network.node(node).cap,
            load=load,
            max_load=load,
            arrivals=round(requested / cfg.flow_dr_mean) if cfg.flow_dr_mean > 0 else 0,
            ingress_traffic=requested,
        )

    # ------------------------------------------------------------------ rules
    async def apply(self, changes: list[Change], decision: Decision) -> InstallResult:
        client = self.client
        if client is None:
            return InstallResult((InstallError(-1, 0, "controller unavailable"),))
        try:
            result = await client.apply([(c.op, c.intent) for c in changes])
        except ControllerUnavailable as exc:
            return InstallResult((InstallError(-1, 0, f"controller unavailable: {exc}"),))
        return InstallResult(tuple(_install_error(e) for e in result.errors))

    async def dump(self, dpids: frozenset[int] | None = None) -> list[Intent]:
        client = self.client
        if client is None:
            raise ControllerUnavailable("not connected")
        rules = await client.dump(dpids=dpids)
        return rules if dpids is None else [r for r in rules if r.dpid in dpids]

    def snapshot(self) -> Snapshot:
        down_nodes, down_links = self.down()  # all state lives on the event loop: consistent
        return Snapshot(
            self.observation(), down_nodes, down_links, self.unreachable(), self.report_ages()
        )

    def stats(self) -> dict[str, float]:
        return {
            "controller_connected": float(self.client is not None),
            "switches_connected": float(len(self.connected)),
            "switches_expected": float(len(self.wiring.dpids)),
        }


def _install_error(error: BatchError) -> InstallError:
    return InstallError(error.index, error.dpid or 0, error.message, error.type, error.code)


def _received(port: PortStats) -> int:
    return port.rx_bytes


def _sent(port: PortStats) -> int:
    return port.tx_bytes


def _delta(
    record: Monitor, before: Monitor, ports: tuple[int, ...], count: Callable[[PortStats], int]
) -> float:
    def total(monitor: Monitor) -> float:
        return float(sum(count(p) for p in monitor.ports or () if p.port_no in ports))

    return max(0.0, total(record) - total(before))
