"""Deployment requests -> OpenFlow flows along their path. Pure: no I/O, no clock.

An accepted request has a placement (a server per VNF) and a route per virtual link (the
substrate's nodes from one end to the other). Its traffic is the packets that match its
classifier (IPv4 source and destination, optionally protocol and port). Along the
request's walk, ingress -> VNF 1's server -> ... -> egress, every switch it passes gets
one flow in table 0 at ``REQUEST_PRIORITY`` that matches the classifier and the port the
packet came in on and outputs it toward the next node, or to the server's SF port where a
VNF runs, and on from that port when the SF hands it back. At the egress switch the
packet goes on to table 1, which routes IPv4 by destination (``compiler``). Consecutive
VNFs on one server are one hand-over: the server passes the packet between them itself.

Every flow of a request carries the request's own cookie (``request_cookie``), under the
agent's cookie prefix: the switch's flows of one request can be found and removed exactly.
A walk that enters a switch twice through the same port toward different next hops cannot
be told apart by a flow table: it is refused (``RequestRuleError``), as is a placement on
a node without an SF port or a route over a link the wiring does not have.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from agent.model.wiring import Wiring
from agent.rules.intents import COOKIE, FlowIntent, MatchValue

IPV4 = 0x0800
REQUEST_PRIORITY = 450  # above slices (400) and every coordination flow
ENTRY_PRIORITY = REQUEST_PRIORITY - 1  # entry without an ingress port: any port
ROUTING_TABLE = 1
REQUEST_COOKIE_BASE = (COOKIE & 0xFFFF_0000_0000_0000) | 0x0001_0000_0000
MAX_REQUEST_ID = 0xFFFF_FFFF
CLASSIFIER_FIELDS = frozenset({"ipv4_src", "ipv4_dst", "ip_proto", "tcp_dst", "udp_dst"})
TAG_NETWORK = ipaddress.IPv4Network("100.64.0.0/10")  # default sources: one per request
ENTRY = -1  # "came in on an ingress port" in a walk


class RequestRuleError(ValueError):
    """A request's walk that flows on these switches cannot carry."""


def request_cookie(request_id: int) -> int:
    """The cookie of every flow of request ``request_id``."""
    if not 0 <= request_id <= MAX_REQUEST_ID:
        raise RequestRuleError(f"request id {request_id} outside 0..{MAX_REQUEST_ID}")
    return REQUEST_COOKIE_BASE | request_id


def tag_address(request_id: int) -> str:
    """The default classifier's source address of a request: its own in 100.64.0.0/10."""
    if not 0 < request_id < TAG_NETWORK.num_addresses - 1:
        raise RequestRuleError(f"request id {request_id}: no tag address left")
    return str(TAG_NETWORK.network_address + request_id)


def check_classifier(match: Mapping[str, MatchValue]) -> dict[str, MatchValue]:
    """The classifier in canonical form (addresses normalised); ValueError naming the
    field that is wrong."""
    unknown = sorted(set(match) - CLASSIFIER_FIELDS)
    if unknown:
        known = ", ".join(sorted(CLASSIFIER_FIELDS))
        raise ValueError(f"{unknown[0]}: not a classifier field (known: {known})")
    out: dict[str, MatchValue] = {}
    for name, value in sorted(match.items()):
        if name.startswith("ipv4_"):
            try:
                out[name] = str(ipaddress.IPv4Address(str(value)))
            except ValueError:
                raise ValueError(f"{name}: {value!r} is not an IPv4 address") from None
        elif isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFFFF:
            raise ValueError(f"{name}: must be an integer from 0 to 65535")
        else:
            out[name] = value
    if ("tcp_dst" in out or "udp_dst" in out) and "ip_proto" not in out:
        out["ip_proto"] = 6 if "tcp_dst" in out else 17
    return out


@dataclass(frozen=True)
class RequestRoute:
    """What the switches need of an accepted request."""

    request_id: int
    classifier: tuple[tuple[str, MatchValue], ...]
    ingress: str
    servers: tuple[str, ...]  # node of each VNF
    segments: tuple[tuple[str, ...], ...]  # nodes of each virtual link, end to end


@dataclass(frozen=True)
class Visit:
    """The packet at switch ``node``, in through ``in_port`` (ENTRY: an ingress port), out
    through ``out_port`` (None: on to the routing table at the egress)."""

    node: str
    in_port: int
    out_port: int | None


def walk(route: RequestRoute, wiring: Wiring) -> list[Visit]:
    """Every switch visit of the request's packets, in order."""
    if len(route.segments) != len(route.servers) + 1:
        raise RequestRuleError("a route needs one segment per virtual link")
    visits: list[Visit] = []
    node, in_port = route.ingress, ENTRY
    for j, segment in enumerate(route.segments):
        if not segment or segment[0] != node:
            raise RequestRuleError(f"virtual link {j} does not start at {node!r}")
        for nxt in segment[1:]:
            visits.append(Visit(node, in_port, _port(wiring, node, nxt)))
            node, in_port = nxt, _port(wiring, nxt, node)
        if j == len(route.servers):
            break
        if node != route.servers[j]:
            raise RequestRuleError(f"virtual link {j} does not end at VNF {j + 1}'s server")
        if j > 0 and len(segment) == 1:
            continue  # the server already has the packet: it runs this VNF too
        sf_port = wiring.sf_ports.get(node)
        if sf_port is None:
            raise RequestRuleError(f"node {node!r} has no SF port in the wiring")
        visits.append(Visit(node, in_port, sf_port))
        in_port = sf_port
    visits.append(Visit(node, in_port, None))
    return visits


def _port(wiring: Wiring, a: str, b: str) -> int:
    port = wiring.ports.get((a, b))
    if port is None:
        raise RequestRuleError(f"the wiring has no port of {a!r} toward {b!r}")
    return port


def compile_request(route: RequestRoute, wiring: Wiring) -> list[FlowIntent]:
    """The request's flows (deduplicated, in walk order); RequestRuleError when a flow
    table cannot carry its walk."""
    cookie = request_cookie(route.request_id)
    chosen: dict[tuple[str, int], int | None] = {}
    for visit in walk(route, wiring):
        key = (visit.node, visit.in_port)
        if key in chosen and chosen[key] != visit.out_port:
            where = "its ingress" if visit.in_port == ENTRY else f"port {visit.in_port}"
            raise RequestRuleError(
                f"the path enters {visit.node!r} twice through {where} with different next hops"
            )
        if visit.out_port is not None and visit.out_port == visit.in_port:
            raise RequestRuleError(f"the path turns back at {visit.node!r}")
        chosen[key] = visit.out_port
    flows: list[FlowIntent] = []
    for (node, in_port), out_port in chosen.items():
        flows.extend(_flows(route, wiring, node, in_port, out_port, cookie))
    return flows


def _flows(
    route: RequestRoute,
    wiring: Wiring,
    node: str,
    in_port: int,
    out_port: int | None,
    cookie: int,
) -> list[FlowIntent]:
    dpid = wiring.dpids.get(node)
    if dpid is None:
        raise RequestRuleError(f"node {node!r} has no switch in the wiring")
    base: dict[str, MatchValue] = {**dict(route.classifier), "eth_type": IPV4}
    actions = (("output", out_port),) if out_port is not None else ()
    goto = ROUTING_TABLE if out_port is None else None
    if in_port != ENTRY:
        return [_flow(dpid, REQUEST_PRIORITY, {**base, "in_port": in_port}, actions, goto, cookie)]
    ports = wiring.ingress_ports.get(node, ())
    if not ports:  # no declared ingress port: the request's traffic may come in anywhere
        return [_flow(dpid, ENTRY_PRIORITY, base, actions, goto, cookie)]
    return [
        _flow(dpid, REQUEST_PRIORITY, {**base, "in_port": port}, actions, goto, cookie)
        for port in ports
        if port != out_port
    ]


def _flow(
    dpid: int,
    priority: int,
    match: Mapping[str, MatchValue],
    actions: tuple[tuple[str, int], ...],
    goto: int | None,
    cookie: int,
) -> FlowIntent:
    return FlowIntent(dpid, 0, priority, tuple(sorted(match.items())), actions, goto, None, cookie)


def node_walk(route: RequestRoute) -> list[str]:
    """The nodes the request's packets pass, in order (a node once per pass)."""
    nodes = [route.ingress]
    for segment in route.segments:
        nodes.extend(segment[1:])
    return nodes


def compile_requests(routes: Sequence[RequestRoute], wiring: Wiring) -> list[FlowIntent]:
    out: list[FlowIntent] = []
    for route in routes:
        out.extend(compile_request(route, wiring))
    return out
