"""The live page's one stream: server-sent events of what the daemon publishes.

Every publication becomes one ``state`` event, encoded once and queued for every
connected client; a client that connects first gets a ``hello`` event with the latest
state and the time series of the last minutes (kept here, one sample per decision).
Each client has a bounded queue: when a slow reader falls behind, its oldest events are
dropped (each state supersedes the one before), so no reader can grow this process's
memory. Quiet streams carry a comment line every ``heartbeat_s`` seconds; that write is
also how a client that went away is noticed and dropped.

The page needs positions: coordinates from the network file when most nodes have them
(longitude and latitude, east-west shrunk by the cosine of the mean latitude; a node
without them beside its neighbours), else a spring layout; scaled into the unit square,
computed once per topology.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from collections import deque
from collections.abc import Iterable
from typing import Any

HEARTBEAT = b": keep-alive\n\n"
RETRY = b"retry: 2000\n\n"  # how soon a browser reconnects after the stream ends
QUEUE_SIZE = 16
MAX_CLIENTS = 32
WINDOW_S = 300.0  # the time series the page draws: the last five minutes
MARGIN = 0.04  # of the unit square, left around the drawn network

Position = tuple[float, float]


def encode(event: str, data: Any) -> bytes:
    """One server-sent event: JSON on a single ``data`` line (``json.dumps`` escapes
    newlines inside strings); NaN and infinities, which browsers cannot parse, as null."""
    try:
        payload = json.dumps(data, separators=(",", ":"), allow_nan=False)
    except ValueError:
        payload = json.dumps(_finite(data), separators=(",", ":"), allow_nan=False)
    return f"event: {event}\ndata: {payload}\n\n".encode()


def _finite(data: Any) -> Any:
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {key: _finite(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [_finite(value) for value in data]
    return data


class Client:
    """One connected reader: a bounded queue of encoded events; None ends the stream."""

    def __init__(self, size: int = QUEUE_SIZE) -> None:
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=max(1, size))
        self.dropped = 0

    def offer(self, message: bytes | None) -> None:
        """Queue ``message``, dropping the oldest queued event when full."""
        while True:
            try:
                self.queue.put_nowait(message)
                return
            except asyncio.QueueFull:
                with contextlib.suppress(asyncio.QueueEmpty):
                    self.queue.get_nowait()
                    self.dropped += 1

    async def next(self, heartbeat_s: float) -> bytes | None:
        """The next event, a heartbeat when none comes within ``heartbeat_s``, or None
        when the stream is over."""
        try:
            return await asyncio.wait_for(self.queue.get(), heartbeat_s)
        except TimeoutError:
            return HEARTBEAT


class EventHub:
    """The publications, fanned out to every stream; the time series the page draws."""

    def __init__(
        self,
        heartbeat_s: float = 15.0,
        queue_size: int = QUEUE_SIZE,
        max_clients: int = MAX_CLIENTS,
        window_s: float = WINDOW_S,
    ) -> None:
        self.heartbeat_s = heartbeat_s
        self.queue_size = queue_size
        self.max_clients = max_clients
        self.window_s = window_s
        self.clients: set[Client] = set()
        self.history: deque[dict[str, Any]] = deque()
        self.latest: dict[str, Any] | None = None
        self.closed = False
        self.last_problem: str | None = None  # why the last publication could not be drawn
        self._layout: tuple[Any, dict[str, Position]] | None = None
        self._cycles: Any = None  # the decision the last sample came from
        self._stats: dict[str, float] = {}  # and the backend's counters then

    def full(self) -> bool:
        return len(self.clients) >= self.max_clients

    def subscribe(self) -> Client:
        """A new client whose first event is ``hello`` (or the end, after ``close``)."""
        client = Client(self.queue_size)
        if self.closed:
            client.offer(None)
            return client
        client.offer(RETRY + encode("hello", {"frame": self.latest, "history": list(self.history)}))
        self.clients.add(client)
        return client

    def unsubscribe(self, client: Client) -> None:
        self.clients.discard(client)

    def close(self) -> None:
        """End every stream (the process is stopping)."""
        self.closed = True
        for client in self.clients:
            client.offer(None)
        self.clients.clear()

    def publish(self, state: dict[str, Any]) -> None:
        """One publication of the daemon: a ``state`` event for every client."""
        frame = self.frame(state)
        sample = self.sample(state)
        if sample is not None:
            self.history.append(sample)
        while self.history and self.history[0]["t"] < self.history[-1]["t"] - self.window_s:
            self.history.popleft()  # older than the window before the newest sample
        self.latest = frame
        message = encode("state", {**frame, "sample": sample})
        for client in self.clients:
            client.offer(message)

    def frame(self, state: dict[str, Any]) -> dict[str, Any]:
        """What the page draws of one publication: topology with positions, status,
        decision, recovery and overrides."""
        topology = dict(state.get("topology") or {"nodes": [], "links": [], "chains": {}})
        where = self.positions(topology["nodes"], topology["links"])
        topology["nodes"] = [
            {**node, "x": where[node["id"]][0], "y": where[node["id"]][1]}
            for node in topology["nodes"]
        ]
        return {
            "published_at": state.get("published_at"),
            "status": state.get("status") or {},
            "topology": topology,
            "decision": state.get("decision"),
            "recovery": state.get("recovery") or {"failed": False, "plan": None},
            "overrides": state.get("overrides") or [],
        }

    def positions(
        self, nodes: list[dict[str, Any]], links: list[dict[str, Any]]
    ) -> dict[str, Position]:
        """Positions of ``nodes`` in the unit square, computed once per topology."""
        key = (
            tuple((n["id"], n.get("latitude"), n.get("longitude")) for n in nodes),
            tuple((link["a"], link["b"]) for link in links),
        )
        if self._layout is None or self._layout[0] != key:
            self._layout = (key, layout(nodes, links))
        return self._layout[1]

    def sample(self, state: dict[str, Any]) -> dict[str, Any] | None:
        """One point of the time series per decision (None when this publication comes
        from no new decision: an override, a reload)."""
        cycles = _cycles(state)
        if (state.get("status") or {}).get("last_decision_at") is None or cycles == self._cycles:
            return None
        made = make_sample(state, self._stats)
        self._cycles, self._stats = cycles, state["status"].get("backend_stats") or {}
        return made


def _cycles(state: dict[str, Any]) -> Any:
    return ((state.get("status") or {}).get("counters") or {}).get("cycles")


def make_sample(state: dict[str, Any], before: dict[str, float]) -> dict[str, Any]:
    """Success ratio since the sample before (sim backend: successful / finished flows,
    ``before`` holding the backend's counters then), the network's load, latencies and
    rule counts."""
    status = state["status"]
    cycle = status.get("last_cycle") or {}
    latency = cycle.get("latency_ms") or {}
    rules = status.get("installed_rules") or {}
    nodes = (state.get("topology") or {}).get("nodes") or []
    install = float(latency.get("install", 0.0))
    return {
        "t": status["last_decision_at"],
        "cycle": _cycles(state),
        "success_ratio": _success_ratio(status.get("backend_stats") or {}, before),
        "load": _load(nodes),
        "ingress": _ingress(nodes),
        "decision_ms": round(float(latency.get("total", 0.0)) - install, 3),
        "install_ms": round(install, 3),
        "flows": rules.get("flows", 0),
        "groups": rules.get("groups", 0),
        "meters": rules.get("meters", 0),
        "fallback": bool((status.get("fallback") or {}).get("active")),
    }


def _success_ratio(now: dict[str, float], then: dict[str, float]) -> float | None:
    if "sim_flows_successful" not in now:
        return None  # not the simulator backend
    done = now["sim_flows_successful"] - then.get("sim_flows_successful", 0.0)
    lost = now.get("sim_flows_dropped", 0.0) - then.get("sim_flows_dropped", 0.0)
    if done + lost <= 0:
        return None
    return round(done / (done + lost), 4)


def _load(nodes: Iterable[dict[str, Any]]) -> float | None:
    """Resources in use over capacity, summed over the nodes that reported."""
    used = cap = 0.0
    for node in nodes:
        if node.get("load") is not None and node.get("cap", 0) > 0 and not node.get("down"):
            used, cap = used + float(node["load"]), cap + float(node["cap"])
    return round(used / cap, 4) if cap > 0 else None


def _ingress(nodes: Iterable[dict[str, Any]]) -> float | None:
    """The data rate entering the network, summed over the nodes that reported it."""
    rates = [float(n["ingress_traffic"]) for n in nodes if n.get("ingress_traffic") is not None]
    return round(sum(rates), 4) if rates else None


def layout(nodes: list[dict[str, Any]], links: list[dict[str, Any]]) -> dict[str, Position]:
    """Node positions in the unit square: geographic when at least half the nodes have
    coordinates (the others beside their placed neighbours), else a spring layout."""
    if not nodes:
        return {}
    located = [n for n in nodes if n.get("latitude") is not None and n.get("longitude") is not None]
    edges = [(link["a"], link["b"]) for link in links]
    if 2 * len(located) < len(nodes):
        return _fit(_spring([n["id"] for n in nodes], edges))
    mean = math.radians(sum(float(n["latitude"]) for n in located) / len(located))
    raw = {
        n["id"]: (float(n["longitude"]) * math.cos(mean), -float(n["latitude"])) for n in located
    }
    return _fit(_beside_neighbours(raw, [n["id"] for n in nodes], edges))


def _beside_neighbours(
    raw: dict[str, Position], ids: list[str], edges: list[tuple[str, str]]
) -> dict[str, Position]:
    """Place nodes without coordinates near the mean of their placed neighbours (a small
    offset each, so that they do not cover one another), round by round; nodes with no
    placed neighbour at all go in a row below the map."""
    placed = dict(raw)
    xs, ys = [p[0] for p in raw.values()], [p[1] for p in raw.values()]
    step = 0.06 * (max(max(xs) - min(xs), max(ys) - min(ys)) or 1.0)
    neighbours: dict[str, list[str]] = {i: [] for i in ids}
    for a, b in edges:
        neighbours.setdefault(a, []).append(b)
        neighbours.setdefault(b, []).append(a)
    waiting = [i for i in ids if i not in placed]
    while waiting:
        ready = [i for i in waiting if any(n in placed for n in neighbours[i])]
        if not ready:
            for k, node in enumerate(waiting):
                placed[node] = (min(xs) + k * step, max(ys) + 2 * step)
            break
        for k, node in enumerate(ready):
            near = [placed[n] for n in neighbours[node] if n in placed]
            angle = 2.4 * (len(placed) + k)  # a golden-angle spiral of offsets
            placed[node] = (
                sum(p[0] for p in near) / len(near) + step * math.cos(angle),
                sum(p[1] for p in near) / len(near) + step * math.sin(angle),
            )
        waiting = [i for i in waiting if i not in placed]
    return placed


def _spring(ids: list[str], edges: list[tuple[str, str]]) -> dict[str, Position]:
    import networkx as nx

    graph = nx.Graph()
    graph.add_nodes_from(ids)
    graph.add_edges_from(edges)
    placed = nx.spring_layout(graph, seed=1)
    return {node: (float(xy[0]), float(xy[1])) for node, xy in placed.items()}


def _fit(raw: dict[str, Position]) -> dict[str, Position]:
    """Scale into the unit square (less a margin) keeping the aspect ratio, centred."""
    xs, ys = [p[0] for p in raw.values()], [p[1] for p in raw.values()]
    span = max(max(xs) - min(xs), max(ys) - min(ys)) or 1.0
    scale = (1.0 - 2 * MARGIN) / span
    dx = (1.0 - (max(xs) - min(xs)) * scale) / 2
    dy = (1.0 - (max(ys) - min(ys)) * scale) / 2
    return {
        node: (round(dx + (x - min(xs)) * scale, 5), round(dy + (y - min(ys)) * scale, 5))
        for node, (x, y) in raw.items()
    }
