"""Progressive recovery after a large failure (DeepPR's model: Ishigaki, Devic, Gour, Jue,
GLOBECOM 2019, and the authors' published code).

A recovery instance is a graph whose nodes have a demand (repair units still needed) and a
utility; one independent node (the orchestrator's host) works from the start. A node is
functional when it has received its whole demand and is connected to the independent node
through functional nodes. At every step ``capacity`` repair units arrive; the reward of a
step is the total utility of functional nodes after that step's units are applied, and a
recovery lasts ``ceil(total demand / capacity)`` steps. As in the published code, the
independent node earns nothing (generators give it utility 0 and demand 0).

A node with demand 0 other than the independent node (a working switch cut off by failures)
needs no repair but is functional only once connected, so the functional set is always the
component of the independent node among nodes whose remaining demand is 0.

A plan is an order of the nodes to repair; units are poured along it (a node's leftover
units go to the next one), which is how optimal plans behave (the paper's theorem: the
optimum concentrates resources on nodes adjacent to the functional set).
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import networkx as nx
from pydantic import BaseModel, ConfigDict

from agent.model.network_io import NetworkOptions, load_network

ZOO_DIR = Path(__file__).resolve().parents[2] / "topologies" / "zoo"
Mode = Literal["compliant", "adversarial"]


@dataclass(frozen=True)
class RecoveryInstance:
    """One progressive-recovery problem: graph, demands, utilities, independent node, C."""

    name: str
    n: int
    edges: tuple[tuple[int, int], ...]
    demand: tuple[int, ...]
    utility: tuple[float, ...]
    independent: int = 0
    capacity: int = 1
    labels: tuple[str, ...] = ()
    neighbours: tuple[frozenset[int], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.demand) != self.n or len(self.utility) != self.n:
            raise ValueError("demand and utility need one entry per node")
        if self.capacity < 1 or min(self.demand, default=0) < 0:
            raise ValueError("capacity must be >= 1 and demands >= 0")
        if not 0 <= self.independent < self.n:
            raise ValueError(f"independent node {self.independent} is not a node")
        adjacent: list[set[int]] = [set() for _ in range(self.n)]
        for a, b in self.edges:
            if a != b:
                adjacent[a].add(b)
                adjacent[b].add(a)
        object.__setattr__(self, "neighbours", tuple(frozenset(s) for s in adjacent))

    @property
    def horizon(self) -> int:
        """Number of recovery steps: ceil(total demand of the dependent nodes / C)."""
        total = sum(d for v, d in enumerate(self.demand) if v != self.independent)
        return math.ceil(total / self.capacity)

    @property
    def to_repair(self) -> tuple[int, ...]:
        """The nodes that need repair units (positive demand, not the independent node)."""
        return tuple(v for v in range(self.n) if v != self.independent and self.demand[v] > 0)

    def label(self, node: int) -> str:
        return self.labels[node] if self.labels else str(node)

    def graph(self) -> nx.Graph:
        graph = nx.Graph()
        graph.add_nodes_from(range(self.n))
        graph.add_edges_from(self.edges)
        return graph

    def functional(self, remaining: Sequence[int]) -> set[int]:
        """The component of the independent node among nodes with no remaining demand."""
        seen = {self.independent}
        stack = [self.independent]
        while stack:
            for w in self.neighbours[stack.pop()]:
                if w not in seen and remaining[w] <= 0:
                    seen.add(w)
                    stack.append(w)
        return seen

    def frontier(self, functional: Iterable[int]) -> list[int]:
        """Non-functional nodes adjacent to the functional set, in node order."""
        done = set(functional)
        near = {w for v in done for w in self.neighbours[v]} - done
        return sorted(near)


class RepairStep(BaseModel):
    """One element of a plan: repair ``label`` with ``demand`` units; it works from step
    ``completes_at`` (1-based) on, and the network then yields ``utility_after``."""

    model_config = ConfigDict(extra="forbid")

    node: int
    label: str
    kind: str = "node"
    demand: int
    completes_at: int
    utility_after: float


class RecoveryPlan(BaseModel):
    """An ordered list of repair steps with the expected utility curve (one value per step,
    after that step's units) and its sum, the objective. JSON-serialisable."""

    model_config = ConfigDict(extra="forbid")

    instance: str
    policy: str
    capacity: int
    steps: list[RepairStep]
    curve: list[float]
    total_utility: float

    @property
    def order(self) -> list[int]:
        return [step.node for step in self.steps]


def utility_curve(instance: RecoveryInstance, order: Sequence[int]) -> list[float]:
    """Utility of the functional set after each step when units are poured along ``order``."""
    remaining = list(instance.demand)
    remaining[instance.independent] = 0
    queue = [v for v in order if remaining[v] > 0]
    queue += [v for v in instance.to_repair if v not in set(queue)]
    curve: list[float] = []
    position = 0
    for _ in range(instance.horizon):
        units = instance.capacity
        while units > 0 and position < len(queue):
            node = queue[position]
            used = min(units, remaining[node])
            remaining[node] -= used
            units -= used
            if remaining[node] == 0:
                position += 1
        curve.append(sum(instance.utility[v] for v in instance.functional(remaining)))
    return curve


def total_utility(instance: RecoveryInstance, order: Sequence[int]) -> float:
    """The objective of a plan: utility summed over all steps of the recovery."""
    return float(sum(utility_curve(instance, order)))


def make_plan(instance: RecoveryInstance, order: Sequence[int], policy: str) -> RecoveryPlan:
    """A RecoveryPlan for ``order`` (nodes needing no units are left out)."""
    curve = utility_curve(instance, order)
    seen: set[int] = set()
    steps: list[RepairStep] = []
    poured = 0
    for v in order:
        if v in seen or v == instance.independent or instance.demand[v] <= 0:
            continue
        seen.add(v)
        poured += instance.demand[v]
        done = max(1, math.ceil(poured / instance.capacity))
        steps.append(
            RepairStep(
                node=v,
                label=instance.label(v),
                demand=instance.demand[v],
                completes_at=done,
                utility_after=curve[done - 1] if curve else 0.0,
            )
        )
    return RecoveryPlan(
        instance=instance.name,
        policy=policy,
        capacity=instance.capacity,
        steps=steps,
        curve=curve,
        total_utility=float(sum(curve)),
    )


# ---------------------------------------------------------------- generators


def _draws(rng: random.Random, n: int, independent: int) -> tuple[list[int], list[float]]:
    """Utility uniform in [1, 4], demand uniform in [1, 2] (the published code's ranges)."""
    utility: list[float] = [float(rng.randint(1, 4)) for _ in range(n)]
    demand = [rng.randint(1, 2) for _ in range(n)]
    utility[independent], demand[independent] = 0.0, 0
    return demand, utility


def _make_adversarial(graph: nx.Graph, demand: list[int], utility: list[float], big: float) -> bool:
    """The paper's trap: node n-2 loses its edge to node 0, gets utility ``big`` and demand 1,
    its neighbours utility 1 and demand 2. False when that would disconnect the graph."""
    target = graph.number_of_nodes() - 2
    if graph.has_edge(0, target):
        graph.remove_edge(0, target)
    if target <= 0 or not nx.is_connected(graph) or graph.degree(target) == 0:
        return False
    utility[target], demand[target] = big, 1
    for w in graph.neighbors(target):
        if w != 0:
            utility[w], demand[w] = 1.0, 2
    return True


def gnp_instance(n: int, seed: int, mode: Mode = "compliant", p: float = 0.2) -> RecoveryInstance:
    """A GNP(n, p) graph redrawn until connected (and, adversarial, connected after the
    trap's edge removal); node 0 independent; C = 1; all other nodes failed."""
    if n < 3:
        raise ValueError("a GNP recovery instance needs at least 3 nodes")
    rng = random.Random(seed)
    while True:
        graph = nx.gnp_random_graph(n, p, seed=rng.randrange(2**32))
        if not nx.is_connected(graph):
            continue
        demand, utility = _draws(rng, n, 0)
        if mode == "adversarial" and not _make_adversarial(graph, demand, utility, 10.0):
            continue
        return RecoveryInstance(
            name=f"gnp{n}-{mode}-s{seed}",
            n=n,
            edges=tuple(sorted(graph.edges)),
            demand=tuple(demand),
            utility=tuple(utility),
        )


def zoo_graph(name_or_path: str | Path) -> tuple[nx.Graph, tuple[str, ...]]:
    """A Topology Zoo graph relabelled 0..n-1 in file order, with the node names."""
    path = Path(name_or_path)
    if path.suffix == "":
        path = ZOO_DIR / f"{name_or_path}.gml"
    n, edges, labels = _read_zoo(path.resolve())
    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    graph.add_edges_from(edges)
    return graph, labels


@functools.lru_cache(maxsize=16)
def _read_zoo(path: Path) -> tuple[int, tuple[tuple[int, int], ...], tuple[str, ...]]:
    network = load_network(path, NetworkOptions(require_node_cap=False))
    index = {node_id: i for i, node_id in enumerate(network.node_ids)}
    edges = tuple((index[link.a], index[link.b]) for link in network.links)
    return len(index), edges, tuple(node.label or node.id for node in network.nodes)


def zoo_instance(name_or_path: str | Path, seed: int, mode: Mode = "compliant") -> RecoveryInstance:
    """A Zoo graph (``Ibm``, ``BtNorthAmerica`` or a path) with the published code's random
    utilities and demands; node 0 independent. Adversarial: the trap with utility 20."""
    graph, labels = zoo_graph(name_or_path)
    rng = random.Random(seed)
    demand, utility = _draws(rng, graph.number_of_nodes(), 0)
    if mode == "adversarial" and not _make_adversarial(graph, demand, utility, 20.0):
        raise ValueError(f"{name_or_path}: the adversarial trap would disconnect the graph")
    stem = Path(name_or_path).stem
    return RecoveryInstance(
        name=f"{stem}-{mode}-s{seed}",
        n=graph.number_of_nodes(),
        edges=tuple(sorted(graph.edges)),
        demand=tuple(demand),
        utility=tuple(utility),
        labels=labels,
    )


def minimal_trap() -> RecoveryInstance:
    """The paper's minimal example: RATIO repairs the cheap node 1 (ratio 2) first while
    node 3 (utility 10) waits behind the costly node 2. RATIO earns 20, the optimum 25."""
    return RecoveryInstance(
        name="minimal-trap",
        n=4,
        edges=((0, 1), (0, 2), (2, 3)),
        demand=(0, 1, 2, 1),
        utility=(0.0, 2.0, 1.0, 10.0),
    )


@dataclass(frozen=True)
class GraphFamily:
    """One item of a ``--graphs`` spec: ``gnp:N``, ``gnp:A-B`` (sizes A..B) or ``zoo:NAME``."""

    kind: Literal["gnp", "zoo"]
    sizes: tuple[int, ...] = ()
    zoo: str = ""

    def instance(self, seed: int, mode: Mode, size: int | None = None) -> RecoveryInstance:
        if self.kind == "zoo":
            return zoo_instance(self.zoo, seed, mode)
        return gnp_instance(size if size is not None else self.sizes[0], seed, mode)

    @property
    def label(self) -> str:
        if self.kind == "zoo":
            return f"zoo:{self.zoo}"
        low, high = self.sizes[0], self.sizes[-1]
        return f"gnp:{low}" if low == high else f"gnp:{low}-{high}"


def parse_graphs(spec: str) -> list[GraphFamily]:
    """Parse ``gnp:15-20,zoo:Ibm``; ValueError with the offending item otherwise."""
    families: list[GraphFamily] = []
    for item in (part.strip() for part in spec.split(",")):
        kind, _, arg = item.partition(":")
        if kind == "zoo" and arg:
            if not (ZOO_DIR / f"{arg}.gml").exists() and not Path(arg).exists():
                known = ", ".join(sorted(p.stem for p in ZOO_DIR.glob("*.gml")))
                raise ValueError(f"unknown Zoo graph {arg!r} (bundled: {known})")
            families.append(GraphFamily("zoo", zoo=arg))
            continue
        low, _, high = arg.partition("-")
        if kind != "gnp" or not low.isdigit() or (high and not high.isdigit()):
            raise ValueError(f"bad graph spec {item!r}: expected gnp:N, gnp:A-B or zoo:NAME")
        sizes = tuple(range(int(low), int(high or low) + 1))
        if not sizes or sizes[0] < 3:
            raise ValueError(f"bad graph spec {item!r}: sizes must be >= 3 and A <= B")
        families.append(GraphFamily("gnp", sizes=sizes))
    return families
