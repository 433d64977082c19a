"""Networks that load but cannot work as meant: warnings that name the elements."""

from __future__ import annotations

from collections import deque

from agent.model.network import Network

_SHOWN = 5  # names listed in one warning


def structure_warnings(network: Network) -> list[str]:
    """Nodes without any link to another node, and ingress nodes from which no node
    with compute capacity can be reached (their flows are all dropped)."""
    prefix = f"{network.source or network.name}: "
    neighbours: dict[str, set[str]] = {node.id: set() for node in network.nodes}
    for link in network.links:
        if link.a != link.b:
            neighbours[link.a].add(link.b)
            neighbours[link.b].add(link.a)
    warnings = []
    if len(network.nodes) > 1 and not any(neighbours.values()):
        warnings.append(prefix + "no links between nodes: flows cannot leave their ingress node")
    stranded = [node for node in network.ingress if not _reaches_compute(network, neighbours, node)]
    if stranded and len(stranded) == len(network.ingress):
        warnings.append(
            prefix + f"no ingress node ({_names(stranded)}) reaches a node with compute "
            "capacity: every flow will be dropped"
        )
    elif stranded:
        warnings.append(
            prefix + f"ingress node(s) {_names(stranded)} reach no node with compute "
            "capacity: their flows will be dropped"
        )
    return warnings


def _reaches_compute(network: Network, neighbours: dict[str, set[str]], start: str) -> bool:
    seen, queue = {start}, deque([start])
    while queue:
        node = queue.popleft()
        if network.node(node).cap > 0:
            return True
        for other in neighbours[node] - seen:
            seen.add(other)
            queue.append(other)
    return False


def _names(nodes: list[str]) -> str:
    shown = ", ".join(nodes[:_SHOWN])
    return shown + (f" and {len(nodes) - _SHOWN} more" if len(nodes) > _SHOWN else "")
