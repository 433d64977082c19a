"""Decision + topology -> OpenFlow 1.3 intents. Pure: no I/O, no clock.

How a packet travels a chain
----------------------------
Between service functions the chain position travels in an MPLS label::

    label = (chain + 1) << 16 | position << 12 | destination node index

``position`` is the index of the SF the packet needs next, ``destination`` the node
chosen to run it. The SELECT group (c, k) at node n chooses that node: one bucket per
destination with positive schedule weight, which pushes the label (c, k, dst) and
outputs toward dst (or to the SF host port when dst is n and the SF runs there; if
it does not, the bucket drops, like the table miss below). Groups see the packet as
plain IPv4: Open vSwitch's userspace datapath picks buckets by hashing addresses and
cannot see through an MPLS label, so the label is pushed by the bucket, after the
choice. Per switch, table 0 holds:

- priority 300, from the SF host port with label (c, k, n): the SF is done; pop the
  label and hand the packet to the group of (c, k+1), or after the last SF pop the
  label and route by IPv4 destination (table 1);
- priority 200, label (c, k, n) from anywhere else, only where SF k runs here:
  deliver to the SF host port (elsewhere the table miss drops it: the emulated
  NODE_CAP, and placing or removing an instance adds or deletes this flow and
  modifies the node's groups that send the SF to the node itself);
- priority 100, label (c, k, d) for another node d: forward toward d on the shortest
  path of the working network;
- priority 50, IPv4 from an ingress port (optionally matching the chain's fields):
  hand to the group of (c, 0);
- priority 10, any other IPv4: table 1.

Table 1 routes IPv4 by destination host. A changed schedule changes only group
buckets (OFPGC_MODIFY): the flows that point at the groups stay in place.

Buckets: shares as 128 slots, laid out differently at each SF
---------------------------------------------------------------
A schedule means that each flow picks a destination for each SF independently, with
the scheduled shares. Open vSwitch realises neither the shares nor the independence
from plain bucket weights (all measured on 3.1, userspace datapath, distinct source
addresses):

- shares: it hashes the packet's addresses into a table of
  ``max(16, 2**ceil(log2(total weight / smallest weight)))`` entries (at most 256,
  beyond which it falls back to a choice that favours heavy buckets) and shares the
  entries among the buckets by weight. Eleven equal buckets get 16 entries: five of
  them twice the share of the others (1,193-1,299 against 611-706 of 11,000 flows).
- independence: every switch computes the same hash for a packet, so groups with the
  same layout make the same choice: with equal shares over the same nodes at two SFs,
  every flow ran both SFs on one node (measured: 100 % instead of 1/7).

So a group with more than one destination is 128 buckets of weight 1 (OVS then uses
exactly 128 entries, one per bucket): the shares are rounded to 128ths (largest
remainder) and laid out in destination order, and bucket j of the group for the SF at
position k serves the layout's slot ``j * SLOT_STRIDES[k % 8] mod 128``. The strides
make the choices at positions up to three apart close to independent (for every pair
of destinations the joint share is within about 2 % of flows of the product of the
shares, over the share vectors we tried; measured on OVS: 15.8 % of flows on the same
node twice for seven equal shares, 14.3 % if independent); positions 8 apart share a
layout. Other switches see the same shares; a share below 1/128 may round to none.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.model.network import Network, Path, Routing
from agent.model.services import Services
from agent.model.types import Decision
from agent.model.wiring import Wiring
from agent.rules.intents import GROUP_BASE, Action, Bucket, GroupIntent, Intent, flow

ETH_IPV4, ETH_MPLS = 0x0800, 0x8847
TABLE_CHAIN, TABLE_ROUTE = 0, 1
SELECT_SLOTS = 128
# odd, so each is a permutation of the slots; chosen so that any two within three
# positions of each other give close to independent choices
SLOT_STRIDES = (1, 29, 89, 101, 113, 21, 93, 77)


def label(chain: int, position: int, node: int) -> int:
    """The MPLS label for chain index, SF position and destination node index."""
    if not (0 <= chain < 15 and 0 <= position < 16 and 0 <= node < 4096):
        raise ValueError(f"cannot encode chain {chain}, position {position}, node {node}")
    return (chain + 1) << 16 | position << 12 | node


def slot_weights(shares: list[float], slots: int = SELECT_SLOTS) -> list[int]:
    """Shares rounded to whole ``slots`` by largest remainder (ties to the first)."""
    top = max(shares, default=0.0)
    if not top > 0:
        return [0] * len(shares)
    scaled = [share / top for share in shares]  # no overflow in the sum
    total = sum(scaled)
    exact = [share / total * slots for share in scaled]
    counts = [int(x) for x in exact]
    by_remainder = sorted(range(len(shares)), key=lambda i: (counts[i] - exact[i], i))
    for i in by_remainder[: slots - sum(counts)]:
        counts[i] += 1
    assert sum(counts) == slots
    return counts


def bucket_destinations(shares: list[float], position: int) -> list[int]:
    """Per bucket (all of weight 1), the index into ``shares`` it serves: one bucket
    if a single share is left after rounding, else SELECT_SLOTS laid out for this SF
    position (see the module's notes)."""
    counts = slot_weights(shares)
    used = [i for i, n in enumerate(counts) if n]
    if len(used) <= 1:
        return used
    layout = [i for i, n in enumerate(counts) for _ in range(n)]
    stride = SLOT_STRIDES[position % len(SLOT_STRIDES)]
    return [layout[j * stride % SELECT_SLOTS] for j in range(SELECT_SLOTS)]


def group_id(chain: int, position: int) -> int:
    return GROUP_BASE + (chain << 8) + position


@dataclass(frozen=True)
class CompileContext:
    """What the compiler needs besides the decision."""

    network: Network
    services: Services
    wiring: Wiring
    routing: Routing = Routing.COORD_SIM


class RuleCompiler:
    """Compiles decisions for one topology and one set of failed elements."""

    def __init__(
        self,
        topology: CompileContext,
        down_nodes: frozenset[str] = frozenset(),
        down_links: frozenset[frozenset[str]] = frozenset(),
    ) -> None:
        self.topo = topology
        self.down = down_nodes
        net = topology.network
        self.paths: dict[tuple[str, str], Path] = net.shortest_paths(
            topology.routing, down_nodes, down_links
        )
        self.index = {node: i for i, node in enumerate(net.node_ids)}
        self.chains = list(topology.services.chains)
        self.live = [n for n in net.node_ids if n not in down_nodes]
        self._flows: tuple[object, list[Intent]] | None = None
        # groups by (node, chain, position, weights): an unchanged schedule entry gives
        # the very same object, which the diff compares at once
        self._group_cache: dict[tuple[object, ...], GroupIntent] = {}

    def compile(self, decision: Decision) -> list[Intent]:
        """Groups from the schedule; flows from the placement, reused while the
        placement stays the same (the common case: only weights move)."""
        intents: list[Intent] = []
        for node in self.live:
            intents += self._groups(node, decision)
        placement = tuple(sorted((n, tuple(sorted(sfs))) for n, sfs in decision.placement.items()))
        if self._flows is None or self._flows[0] != placement:
            flows: list[Intent] = []
            for node in self.live:
                flows += self._chain_flows(node, decision)
                flows += self._route_flows(node)
            self._flows = (placement, flows)
        return intents + self._flows[1]

    # ------------------------------------------------------------------ helpers
    def _dpid(self, node: str) -> int:
        return self.topo.wiring.dpids[node]

    def _port_toward(self, node: str, target: str) -> int | None:
        path = self.paths.get((node, target))
        if path is None or len(path.nodes) < 2:
            return None
        return self.topo.wiring.ports.get((node, path.nodes[1]))

    def _sfs(self, chain: str) -> tuple[str, ...]:
        return self.topo.services.chains[chain]

    # ------------------------------------------------------------------ groups
    def _groups(self, node: str, decision: Decision) -> list[Intent]:
        groups: list[Intent] = []
        cache = self._group_cache
        if len(cache) > 4096:
            cache.clear()
        placed = set(decision.placement.get(node, ()))
        for c, chain in enumerate(self.chains):
            for k, sf in enumerate(self._sfs(chain)):
                weights = decision.schedule.get(node, {}).get(chain, {}).get(sf, {})
                assert isinstance(weights, dict)
                key = (node, c, k, sf in placed, *sorted(weights.items()))
                group = cache.get(key)
                if group is None:
                    buckets = self._buckets(node, c, k, weights, sf in placed)
                    group = GroupIntent(self._dpid(node), group_id(c, k), "select", buckets)
                    cache[key] = group
                groups.append(group)
        return groups

    def _buckets(
        self, node: str, c: int, k: int, weights: dict[str, float], placed_here: bool
    ) -> tuple[Bucket, ...]:
        usable = {
            dst: w
            for dst, w in weights.items()
            if w > 0 and dst not in self.down and (dst == node or (node, dst) in self.paths)
        }
        dests = [
            (dst, port)
            for dst in sorted(usable, key=self.index.__getitem__)
            if (port := self._delivery_port(node, dst)) is not None
        ]
        per_dest: list[Bucket] = []
        for dst, port in dests:
            push: tuple[Action, ...] = (
                ("push_mpls", ETH_MPLS),
                ("set_field", "mpls_label", label(c, k, self.index[dst])),
            )
            # groups after the first SF are entered from the SF port itself: a packet
            # for the next SF on this same node goes back out where it came from, which
            # OpenFlow only does with the explicit in_port
            out: Action = ("output", "in_port") if dst == node and k > 0 else ("output", port)
            if dst == node and not placed_here:
                # the SF does not run here: drop, as the table miss does for traffic that
                # arrives from elsewhere (the bucket keeps its share of the flows)
                per_dest.append(Bucket(1, push))
                continue
            per_dest.append(Bucket(1, (*push, out)))
        chosen = bucket_destinations([usable[dst] for dst, _ in dests], k)
        return tuple(per_dest[i] for i in chosen)  # the same objects, repeated

    def _delivery_port(self, node: str, dst: str) -> int | None:
        if dst == node:
            return self.topo.wiring.sf_ports.get(node)
        return self._port_toward(node, dst)

    # ------------------------------------------------------------------ chain flows
    def _chain_flows(self, node: str, decision: Decision) -> list[Intent]:
        dpid, me = self._dpid(node), self.index[node]
        sf_port = self.topo.wiring.sf_ports.get(node)
        placed = set(decision.placement.get(node, ()))
        intents: list[Intent] = []
        for c, chain in enumerate(self.chains):
            sfs = self._sfs(chain)
            for k, sf in enumerate(sfs):
                here = {"eth_type": ETH_MPLS, "mpls_label": label(c, k, me)}
                if sf_port is not None:
                    intents.append(self._advance(dpid, c, k, len(sfs), me, sf_port))
                if sf in placed and sf_port is not None:
                    intents.append(flow(dpid, TABLE_CHAIN, 200, here, (("output", sf_port),)))
                intents += self._transit(node, c, k)
            intents += self._classify(node, c, chain)
        intents.append(flow(dpid, TABLE_CHAIN, 10, {"eth_type": ETH_IPV4}, goto_table=TABLE_ROUTE))
        return intents

    def _advance(self, dpid: int, c: int, k: int, length: int, me: int, sf_port: int) -> Intent:
        match = {"in_port": sf_port, "eth_type": ETH_MPLS, "mpls_label": label(c, k, me)}
        if k + 1 < length:
            actions: tuple[Action, ...] = (("pop_mpls", ETH_IPV4), ("group", group_id(c, k + 1)))
            return flow(dpid, TABLE_CHAIN, 300, match, actions)
        return flow(dpid, TABLE_CHAIN, 300, match, (("pop_mpls", ETH_IPV4),), TABLE_ROUTE)

    def _transit(self, node: str, c: int, k: int) -> list[Intent]:
        intents: list[Intent] = []
        for dst in self.live:
            if dst == node:
                continue
            port = self._port_toward(node, dst)
            if port is not None:
                match = {"eth_type": ETH_MPLS, "mpls_label": label(c, k, self.index[dst])}
                intents.append(flow(self._dpid(node), TABLE_CHAIN, 100, match, (("output", port),)))
        return intents

    def _classify(self, node: str, c: int, chain: str) -> list[Intent]:
        extra = self.topo.wiring.chain_match.get(chain, {})
        if not extra and len(self.chains) > 1:
            return []  # several chains need telling apart; without a match none is guessed
        actions: tuple[Action, ...] = (("group", group_id(c, 0)),)
        return [
            flow(
                self._dpid(node),
                TABLE_CHAIN,
                50,
                {"in_port": port, "eth_type": ETH_IPV4, **extra},
                actions,
            )
            for port in self.topo.wiring.ingress_ports.get(node, ())
        ]

    # ------------------------------------------------------------------ IPv4 routing
    def _route_flows(self, node: str) -> list[Intent]:
        intents: list[Intent] = []
        for address, (host_node, host_port) in sorted(self.topo.wiring.hosts.items()):
            port = host_port if host_node == node else self._port_toward(node, host_node)
            if port is None:
                continue
            match: dict[str, int | str] = {"eth_type": ETH_IPV4, "ipv4_dst": address}
            intents.append(flow(self._dpid(node), TABLE_ROUTE, 100, match, (("output", port),)))
        return intents
